# Followup: the two commands a newcomer needs are `make run` and `make test`.
# Everything the project needs is installed from here (Python packages into .venv,
# Debian's chromium for the browser tests); nothing is downloaded at run time.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test test-postgres lint format bench services chromium dictionaries clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

## run: set up, create data/ and the first admin, serve http://127.0.0.1:8000 + worker
run: $(VENV)/.installed
	@bash scripts/ensure-dictionaries || echo "Spelling checks will use pyspellchecker only."
	$(BIN)/followup run

## test: set up with test extras, make sure Chromium and the services are there, test
test: $(VENV)/.installed-test chromium dictionaries services lint
	$(BIN)/pytest -p no:cacheprovider

## test-postgres: the planning, dispatch, store, web, campaign-move, account and trace tests,
## the SIGKILL tests (real worker processes) and the daily-limit race again with PostgreSQL +
## Redis as the backend (tests/support/backend.py); CI runs it after test
PG_TESTS := tests/test_slice.py tests/test_dispatch_fencing.py tests/test_decision_path.py \
	tests/test_web_messages.py tests/test_update_campaign.py tests/test_accounts_core.py \
	tests/test_order_trace_cli.py tests/test_worker_kill.py tests/test_worker_kill_spapi.py \
	tests/test_worker_kill_concurrent.py tests/test_dispatch_daily_limit_race.py
test-postgres: $(VENV)/.installed-test services
	FOLLOWUP_TEST_BACKEND=postgres $(BIN)/pytest -p no:cacheprovider $(PG_TESTS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# security lint: each accepted finding carries "# <why>  # nosec <id>" on its line
	$(BIN)/bandit -q -r core web plugins

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

chromium:
	@bash scripts/ensure-chromium
	@bash scripts/ensure-systemd

dictionaries:
	@bash scripts/ensure-dictionaries

services:
	@bash scripts/ensure-services
	@bash scripts/ensure-dovecot

## bench: print the performance figures quoted in the README
bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .pytest_cache
