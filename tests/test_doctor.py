"""``followup doctor`` on a production install: each broken case gives exactly one
line naming the fix, nothing is created before ``init``, and no traceback is printed."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from core import heartbeat
from core.clock import utcnow
from core.config import ConfigError, load_settings
from core.crypto import encrypt_json
from core.doctor import run_checks
from core.engine import Engine
from core.files import private_dir
from core.models import Campaign, Heartbeat, Message, Order, SellerAccount, Step
from core.store import store_orders
from tests.conftest import order_data

REPO = Path(__file__).resolve().parents[1]


def write_config(tmp_path: Path, web: str = "", database: str = "") -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[app]
data_dir = "data"
[web]
secret_key = {{ file = "data/secret_key", generate = true }}
{web}
[database]
{database or 'url = "sqlite:///data/followup.db"'}
[queue]
backend = "sqlite"
path = "data/queue.db"
[security]
encryption_key = {{ file = "data/encryption_key", generate = true }}
[plugins]
enabled = ["amazon", "demo"]
entrypoints = false
"""
    )
    return path


def init(config: Path) -> Engine:
    """What ``followup init`` does, in this process."""
    private_dir(load_settings(config).data_dir)
    engine = Engine(load_settings(config))
    engine.migrate()
    return engine


def problems(config: Path) -> list[str]:
    return [f"{name}: {detail}" for ok, name, detail in run_checks(str(config)) if not ok]


@pytest.fixture
def healthy(tmp_path):
    """An initialised install with a live account, a live worker and a fresh backup."""
    config = write_config(tmp_path)
    engine = init(config)
    SellerAccount.create(
        name="Shop",
        source="demo",
        marketplaces=["US"],
        credentials=encrypt_json(engine.settings, {"refresh_token": "Atzr|x"}),
    )
    heartbeat.beat()
    heartbeat.record_backup("followup-backup.tar.gz")
    assert problems(config) == []
    yield config, engine
    engine.close()


def test_before_init_one_line_and_nothing_created(tmp_path):
    config = write_config(tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    env = dict(os.environ, FOLLOWUP_CONFIG=str(config), PYTHONPATH=str(REPO))
    proc = subprocess.run(
        [sys.executable, "-m", "core.cli", "doctor"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1
    fails = [line for line in proc.stdout.splitlines() if line.startswith("[FAIL]")]
    assert fails == [
        f"[FAIL] data folder: {tmp_path}/data does not exist yet: run 'followup init'."
    ]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_lost_encryption_key_is_refused_not_replaced(healthy):
    config, engine = healthy
    key_file = engine.settings.data_dir / "encryption_key"
    key_file.unlink()
    [line] = problems(config)
    assert line.startswith("encryption key: [security] encryption_key: the key file")
    assert "that key was lost, not new" in line and "followup restore" in line
    assert not key_file.exists()
    # and start-up (web, worker, any command) refuses too, leaving no new key behind
    with pytest.raises(ConfigError, match="that key was lost"):
        Engine(load_settings(config))
    assert not key_file.exists()


def test_a_first_start_still_generates_the_key(tmp_path):
    config = write_config(tmp_path)
    engine = init(config)
    assert (engine.settings.data_dir / "encryption_key").exists()
    engine.close()


def test_a_sqlite_path_in_a_missing_folder(healthy, tmp_path):
    config, _ = healthy
    write_config(tmp_path, database=f'url = "sqlite:///{tmp_path}/nowhere/followup.db"')
    [line] = problems(config)
    assert f"folder {tmp_path}/nowhere does not exist" in line
    assert not (tmp_path / "nowhere").exists()


def test_a_world_readable_database(healthy):
    config, engine = healthy
    db = engine.settings.data_dir / "followup.db"
    os.chmod(db, 0o644)
    assert problems(config) == [f"permissions: {db} is 0644, readable by others: chmod 600 {db}"]


def test_a_short_secret_key(healthy):
    config, engine = healthy
    (engine.settings.data_dir / "secret_key").write_text("tooshort")
    [line] = problems(config)
    assert line.startswith("secret key: [web] secret_key has 8 characters; use at least 32")


def test_plain_http_to_the_network(healthy, tmp_path):
    config, _ = healthy
    write_config(tmp_path, web='host = "0.0.0.0"')
    [line] = problems(config)
    assert "serves plain HTTP to the network" in line and "trusted_proxies = 1" in line


def test_cookies_never_secure(healthy, tmp_path):
    config, _ = healthy
    write_config(tmp_path, web='secure_cookies = "never"')
    [line] = problems(config)
    assert line.startswith('https cookies: [web] secure_cookies = "never"')


def test_a_stale_worker(healthy):
    config, _ = healthy
    Heartbeat.update(beat_at=utcnow() - timedelta(minutes=20)).where(
        Heartbeat.name.startswith("worker@")
    ).execute()
    [line] = problems(config)
    assert line.startswith("worker: last seen 20 min ago") and "systemctl restart" in line


def test_a_worker_that_never_ran(healthy):
    config, _ = healthy
    Heartbeat.delete().where(Heartbeat.name.startswith("worker@")).execute()
    assert problems(config) == [
        "worker: has never run: start it (systemctl start followup-worker)."
    ]


def test_overdue_due_messages(healthy, engine_plan=None):
    config, engine = healthy
    account = SellerAccount.get()
    [order_id] = store_orders(account, [order_data("US", delivered_days_ago=3)], "t").changed_ids
    campaign = Campaign.create(name="Review", status="active")
    step = Step.create(campaign=campaign, trigger="delivered", sender="dry_run")
    Message.create(
        order=Order.get_by_id(order_id),
        step=step,
        campaign=campaign,
        account=account,
        sender="dry_run",
        state="scheduled",
        due_at=utcnow() - timedelta(hours=2),
    )
    [line] = problems(config)
    assert line.startswith("due messages: 1 due message(s) waiting more than 15 min")


def test_an_old_backup(healthy):
    config, _ = healthy
    Heartbeat.update(beat_at=utcnow() - timedelta(days=3)).where(
        Heartbeat.name == "backup"
    ).execute()
    [line] = problems(config)
    assert line.startswith("backup: the last backup is 3 days old")


def test_a_malformed_encryption_key(healthy):
    config, engine = healthy
    (engine.settings.data_dir / "encryption_key").write_text("not-a-fernet-key")
    [line] = problems(config)
    assert line.startswith("encryption key: [security] encryption_key is not a valid key")
