"""Shared fixtures: a fresh engine per test on a temp-file SQLite database (or a fresh
PostgreSQL database), a memory huey in immediate mode, and helpers to make orders.

Real components only: SQLite files, the local PostgreSQL and Redis servers. A test that
needs PostgreSQL or Redis skips when the server is down on a developer machine, and
fails in CI (``CI=true``), where ``make test`` starts both.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from core import clock
from core.config import settings_from_dict
from core.contracts import ItemData, OrderData
from core.engine import Engine
from core.models import SellerAccount
from core.queue import make_huey
from core.tasks import EngineQueue
from tests.support import backend
from tests.support.mail import make_email_engine  # noqa: F401
from tests.support.servers import (  # noqa: F401
    accounts_fake,
    fake,
    fresh_limiter,
    smtp,
    smtp_server,
)
from tests.support.web import app, client, live_server, page, signed_in  # noqa: F401

PG_DSN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="test")


def base_config(tmp_path, **sections) -> dict:
    """A complete config dict pointing every file into ``tmp_path``."""
    cfg = {
        "app": {"data_dir": str(tmp_path / "data")},
        "web": {"secret_key": {"file": str(tmp_path / "secret_key"), "generate": True}},
        "database": {"url": f"sqlite:///{tmp_path / 'data' / 'followup.db'}"},
        "queue": {"backend": "memory"},
        "security": {"encryption_key": {"file": str(tmp_path / "enc_key"), "generate": True}},
        "plugins": {"enabled": ["amazon", "demo"], "entrypoints": False},
    }
    for name, values in backend.defaults().items():  # FOLLOWUP_TEST_BACKEND=postgres
        cfg[name] = dict(values)
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    return cfg


@pytest.fixture(autouse=backend.BACKEND == "postgres")
def _fresh_backend():
    """On PostgreSQL + Redis (tests/support/backend.py): empty tables for each test."""
    backend.reset()
    yield


def pytest_sessionfinish(session):
    backend.drop()


@pytest.fixture
def make_settings(tmp_path):
    def make(**sections):
        return settings_from_dict(base_config(tmp_path, **sections), tmp_path / "config.toml")

    return make


@pytest.fixture
def settings(make_settings):
    return make_settings()


@pytest.fixture
def make_engine(make_settings):
    made = []

    def make(extra_plugins=(), **sections):
        engine = Engine(make_settings(**sections), extra_plugins=tuple(extra_plugins))
        engine.migrate()
        made.append(engine)
        return engine

    yield make
    for engine in made:
        engine.close()
    clock.freeze(None)


@pytest.fixture
def engine(make_engine):
    return make_engine()


@pytest.fixture
def runtime(engine):
    return EngineQueue(engine, make_huey(engine.settings, immediate=True))


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _require(service: str, port: int) -> None:
    if not _reachable("127.0.0.1", port):
        if os.environ.get("CI"):
            pytest.fail(f"{service} is not reachable on 127.0.0.1:{port} (make test starts it)")
        pytest.skip(f"{service} not running on 127.0.0.1:{port}")


@pytest.fixture
def pg_url():
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    _require("PostgreSQL", 5432)
    import psycopg2

    name = f"followup_t_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(**PG_DSN)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{PG_DSN['user']}@127.0.0.1:5432/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.close()


@pytest.fixture
def redis_url():
    _require("Redis", 6379)
    return "redis://127.0.0.1:6379/15"


@pytest.fixture
def account(engine):
    return SellerAccount.create(name="Test seller", source="demo", marketplaces=["US", "DE", "JP"])


_counter = iter(range(10**6, 10**7))


def order_data(
    marketplace: str = "US",
    *,
    fulfillment: str = "FBM",
    days_ago: float = 12,
    delivered_days_ago: float | None = 8,
    events: dict | None = None,
    sku: str = "SKU-1",
    **fields,
) -> OrderData:
    """A realistic order placed ``days_ago`` and delivered ``delivered_days_ago``."""
    now = datetime.now(UTC)
    placed = now - timedelta(days=days_ago)
    n = next(_counter)
    evts = {"ordered": placed}
    delivery = {}
    if delivered_days_ago is not None:
        shipped = placed + timedelta(days=1)
        delivered = now - timedelta(days=delivered_days_ago)
        evts["shipped"] = shipped
        evts["delivered"] = delivered
        delivery = dict(
            shipped_at=shipped,
            earliest_delivery=delivered,
            latest_delivery=delivered,
            delivery_confirmed=True,
        )
    evts.update(events or {})
    values = dict(
        order_id=f"111-{n}-{n}",
        marketplace=marketplace,
        fulfillment=fulfillment,
        status="Shipped" if delivered_days_ago is not None else "Unshipped",
        purchased_at=placed,
        last_updated_at=max(evts.values()),
        items=(ItemData(sku, "B0TEST0001", "Test product", 1, 19.99),),
        total=19.99,
        currency="USD",
        buyer_key=f"buyer-{n}",
        buyer_locale={"US": "en_US", "DE": "de_DE", "JP": "ja_JP", "UK": "en_GB"}.get(
            marketplace, ""
        ),
        ship_country=marketplace,
        events=evts,
        **delivery,
    )
    values.update(fields)
    return OrderData(**values)


def pytest_terminal_summary(terminalreporter):
    """Print what the guarantee tests measured (see ``tests/support/figures.py``)."""
    from tests.support.figures import MEASURED

    if MEASURED:
        terminalreporter.section("guarantee figures")
        for test, figures in MEASURED:
            terminalreporter.write_line(f"{test}: {figures}")
