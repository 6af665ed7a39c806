"""config.toml: the example is valid, and every kind of mistake names the key to fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.config import ConfigError, load_settings, settings_from_dict
from core.engine import Engine
from core.plugins import make_plugin_manager
from tests.conftest import base_config

REPO = Path(__file__).resolve().parents[1]


def load(tmp_path, text: str):
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_settings(path)


def test_shipped_example_is_valid_and_complete(tmp_path):
    text = (REPO / "config.toml").read_text()
    settings = load(tmp_path, text)
    assert settings.get("web", "port") == 8000
    assert settings.get("queue", "backend") == "sqlite"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'followup.db'}"
    # generate = true created the secrets, readable only by the owner
    key = tmp_path / "data" / "encryption_key"
    assert key.exists() and oct(key.stat().st_mode & 0o777) == "0o600"
    # the example never writes a secret inline
    assert 'secret_key = "' not in text and 'encryption_key = "' not in text


def test_misspelled_key_names_key_section_and_suggestion(tmp_path):
    with pytest.raises(ConfigError) as err:
        settings_from_dict(base_config(tmp_path, web={"prot": 9000}))
    msg = str(err.value)
    assert "[web] prot" in msg and "unknown key" in msg and "'port'" in msg


def test_wrong_type_names_key_and_expected_type(tmp_path):
    with pytest.raises(ConfigError) as err:
        settings_from_dict(base_config(tmp_path, web={"port": "8000"}))
    assert "[web] port" in str(err.value) and "an integer" in str(err.value)


def test_bool_is_not_accepted_as_int(tmp_path):
    with pytest.raises(ConfigError, match=r"\[dispatch\] batch_size"):
        settings_from_dict(base_config(tmp_path, dispatch={"batch_size": True}))


def test_bad_choice(tmp_path):
    with pytest.raises(ConfigError, match=r"\[queue\] backend: 'rabbit' is not one of"):
        settings_from_dict(base_config(tmp_path, queue={"backend": "rabbit"}))


def test_unknown_section_suggests_the_right_one(tmp_path):
    cfg = base_config(tmp_path)
    cfg["databse"] = {"url": "x"}
    with pytest.raises(
        ConfigError, match=r"\[databse\]: unknown section. Did you mean \[database\]"
    ):
        settings_from_dict(cfg)


def test_missing_secret_env_says_what_to_write(tmp_path, monkeypatch):
    monkeypatch.delenv("FOLLOWUP_TEST_NO_SUCH_VAR", raising=False)
    cfg = base_config(tmp_path, web={"secret_key": {"env": "FOLLOWUP_TEST_NO_SUCH_VAR"}})
    with pytest.raises(ConfigError) as err:
        settings_from_dict(cfg)
    assert "[web] secret_key" in str(err.value)
    assert "FOLLOWUP_TEST_NO_SUCH_VAR is not set" in str(err.value)


def test_secret_from_env(tmp_path, monkeypatch):
    monkeypatch.setenv("FOLLOWUP_TEST_SECRET", "s3cret-value")
    settings = settings_from_dict(
        base_config(tmp_path, web={"secret_key": {"env": "FOLLOWUP_TEST_SECRET"}})
    )
    assert settings.get("web", "secret_key") == "s3cret-value"


def test_inline_secret_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"\[web\] secret_key: secrets are not written inline"):
        settings_from_dict(base_config(tmp_path, web={"secret_key": "hunter2"}))


def test_missing_secret_file_without_generate(tmp_path):
    cfg = base_config(tmp_path, security={"encryption_key": {"file": str(tmp_path / "nope")}})
    with pytest.raises(
        ConfigError, match=r"\[security\] encryption_key: file .*nope does not exist"
    ):
        settings_from_dict(cfg)


def test_absent_required_secret(tmp_path):
    cfg = base_config(tmp_path)
    del cfg["web"]["secret_key"]
    with pytest.raises(ConfigError, match=r"\[web\] secret_key: missing"):
        settings_from_dict(cfg)


def test_unknown_plugin_lists_installed_ones(tmp_path):
    settings = settings_from_dict(base_config(tmp_path, plugins={"enabled": ["amazn"]}))
    with pytest.raises(ConfigError) as err:
        make_plugin_manager(settings)
    assert "unknown plugin 'amazn'" in str(err.value) and "amazon" in str(err.value)


def test_marketplace_restriction_for_plugin_not_loaded(tmp_path):
    cfg = base_config(tmp_path)
    cfg["plugins.marketplaces"] = {"eu_vat": ["DE"]}
    with pytest.raises(ConfigError, match=r"\[plugins.marketplaces\] eu_vat: no such plugin"):
        make_plugin_manager(settings_from_dict(cfg))


def test_marketplace_restriction_with_unknown_marketplace(tmp_path):
    cfg = base_config(tmp_path)
    cfg["plugins.marketplaces"] = {"demo": ["XX"]}
    with pytest.raises(ConfigError, match="unknown marketplace 'XX'"):
        Engine(settings_from_dict(cfg))


def test_invalid_toml_names_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(tmp_path, "[web\nport = 1")


def test_followup_config_selects_the_file(tmp_path, monkeypatch):
    path = tmp_path / "other.toml"
    path.write_text(
        '[web]\nport = 8123\nsecret_key = { file = "k", generate = true }\n'
        '[security]\nencryption_key = { file = "e", generate = true }\n'
    )
    monkeypatch.setenv("FOLLOWUP_CONFIG", str(path))
    assert load_settings().get("web", "port") == 8123


def test_settings_are_frozen(settings):
    with pytest.raises(TypeError):
        settings.section("web")["port"] = 1


def test_bad_config_stops_the_cli_with_the_key(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text((REPO / "config.toml").read_text().replace("port = 8000", "prot = 8000"))
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli", "--config", str(path), "doctor"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 1
    assert "[web] prot: unknown key. Did you mean 'port'?" in proc.stdout
