"""``followup backup`` / ``followup restore``: a backup taken while a real worker process
sends (and orders keep arriving) restores every order and message the backup's moment
had, with the key that reads the stored credentials; the archive is private and the key
is never printed. PostgreSQL goes through pg_dump/pg_restore."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from peewee import OperationalError

from core.backup import create_backup, restore_backup
from core.config import load_settings
from core.crypto import decrypt_json, encrypt_json
from core.engine import Engine
from core.models import Campaign, Message, Order, SellerAccount, Step
from core.planning import plan_orders
from core.queue import make_huey
from core.store import store_orders
from core.tasks import EngineQueue
from tests.conftest import order_data
from tests.support.worker import start_worker, stop, wait_for, worker_config
from tests.test_worker_kill import recorder, recorder_url  # noqa: F401 - the fixture

REPO = Path(__file__).resolve().parents[1]
CREDENTIALS = {"refresh_token": "Atzr|backup-test-token"}


def followup(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, FOLLOWUP_CONFIG=str(config), PYTHONPATH=str(REPO))
    return subprocess.run(
        [sys.executable, "-m", "core.cli", *args],
        capture_output=True,
        text=True,
        cwd=config.parent,
        env=env,
        timeout=120,
    )


def snapshot(db_path: Path) -> tuple[set[str], dict[int, str]]:
    """(Amazon order ids, message id -> state) as stored in ``db_path`` right now."""
    db = sqlite3.connect(db_path, timeout=30)
    try:
        orders = {row[0] for row in db.execute('SELECT order_id FROM "order"')}
        messages = dict(db.execute("SELECT id, state FROM message"))
    finally:
        db.close()
    return orders, messages


def test_backup_while_the_worker_sends_restores_every_order_and_message(tmp_path, recorder):  # noqa: F811
    live = tmp_path / "live"
    live.mkdir()
    config = worker_config(live, ["amazon", "demo", "tests.support.http_sender"], lease_seconds=30)
    url = recorder_url(recorder)
    os.environ["FOLLOWUP_TEST_RECORDER_URL"] = url
    engine = Engine(load_settings(config))
    engine.migrate()
    account = SellerAccount.create(
        name="Shop", source="demo", credentials=encrypt_json(engine.settings, CREDENTIALS)
    )
    ids = store_orders(account, [order_data("US") for _ in range(150)], "test").changed_ids
    campaign = Campaign.create(name="Review", status="active")
    Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="http_review",
        window_start_hour=0,
        window_end_hour=24,
    )
    assert plan_orders(engine, ids).planned == 150
    runtime = EngineQueue(engine, make_huey(engine.settings))

    stop_writing = threading.Event()

    def keep_ordering():  # orders keep arriving while the backup runs
        while not stop_writing.is_set():
            try:
                batch = [order_data("US") for _ in range(3)]
                plan_orders(engine, store_orders(account, batch, "test").changed_ids)
            except OperationalError:  # "database is locked": the next batch tries again
                pass
            time.sleep(0.02)

    worker = start_worker(config, FOLLOWUP_TEST_RECORDER_URL=url)
    writer = threading.Thread(target=keep_ordering)
    try:
        runtime.dispatch()
        assert wait_for(lambda: sum(recorder.received.values()) >= 15), "the worker never sent"
        writer.start()
        time.sleep(0.3)
        db_path = live / "data" / "app.db"
        before_orders, before_messages = snapshot(db_path)
        done = followup(config, "backup")
        after_orders, after_messages = snapshot(db_path)
    finally:
        stop_writing.set()
        if writer.is_alive():
            writer.join(10)
        stop(worker, signal.SIGINT)
        os.environ.pop("FOLLOWUP_TEST_RECORDER_URL", None)
    assert done.returncode == 0, done.stderr
    sent_before = sum(state == "sent" for state in before_messages.values())
    assert 15 <= sent_before < len(before_messages), "the worker was not sending at the backup"
    archive = Path(done.stdout.split("backup written: ")[1].split(" (")[0])
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    key = (live / "key").read_text()
    assert key not in done.stdout + done.stderr
    assert after_orders - before_orders, "no order arrived during the backup"

    restored = tmp_path / "restored"
    restored.mkdir()
    new_config = worker_config(restored, ["amazon", "demo", "tests.support.http_sender"])
    back = followup(new_config, "restore", str(archive))
    assert back.returncode == 0, back.stderr
    assert key not in back.stdout + back.stderr
    orders, messages = snapshot(restored / "data" / "app.db")
    # every order and message the backup's moment had, and nothing it could not have had
    assert before_orders <= orders <= after_orders
    assert set(before_messages) <= set(messages) <= set(after_messages)
    for message_id, state in before_messages.items():
        if state == "sent":  # sent is terminal: it stays sent in any later snapshot
            assert messages[message_id] == "sent"
    # the restored key reads the restored credentials
    assert (restored / "key").read_text() == key
    assert stat.S_IMODE((restored / "key").stat().st_mode) == 0o600
    assert stat.S_IMODE((restored / "data" / "app.db").stat().st_mode) == 0o600
    engine.close()
    again = Engine(load_settings(new_config))
    assert decrypt_json(again.settings, SellerAccount.get().credentials) == CREDENTIALS
    assert followup(new_config, "doctor").returncode in (0, 1)
    again.close()


def test_restore_refuses_while_a_worker_runs(tmp_path):
    from core import heartbeat

    config = worker_config(tmp_path, ["amazon", "demo"])
    engine = Engine(load_settings(config))
    engine.migrate()
    archive = create_backup(engine.settings).path
    heartbeat.beat()
    refused = followup(config, "restore", str(archive))
    assert refused.returncode == 2
    assert "a worker is running" in refused.stderr and "systemctl stop" in refused.stderr
    engine.close()


def test_keys_only_brings_back_a_lost_key(make_engine):
    engine = make_engine()
    settings = engine.settings
    SellerAccount.create(name="S", source="demo", credentials=encrypt_json(settings, CREDENTIALS))
    written = create_backup(settings)
    assert written.path.parent == settings.data_dir / "backups"
    key_file = settings.base_dir / "enc_key"
    original = key_file.read_text()
    key_file.unlink()
    done = restore_backup(load_settings_like(settings), written.path, keys_only=True)
    assert any("encryption_key: restored to" in line for line in done)
    assert key_file.read_text() == original
    assert all(original not in line for line in done)


def load_settings_like(settings):
    """The same settings, as restore reads them (nothing generated)."""
    from core.config import settings_from_dict
    from tests.conftest import base_config

    raw = base_config(settings.base_dir)
    return settings_from_dict(raw, settings.path, create=False)


def test_postgresql_round_trip_through_pg_dump(make_engine, pg_url, tmp_path):
    engine = make_engine(database={"url": pg_url})
    account = SellerAccount.create(name="PG shop", source="demo")
    store_orders(account, [order_data("US") for _ in range(20)], "test")
    written = create_backup(engine.settings, tmp_path / "pg-backups")
    Order.delete().execute()
    assert Order.select().count() == 0
    engine.close()
    restore_backup(engine.settings, written.path)
    engine.db.connect(reuse_if_open=True)
    assert Order.select().count() == 20
    assert Message.select().count() == 0
    engine.close()


def test_a_file_that_is_not_an_archive_gets_a_clear_error(tmp_path, make_engine):
    from core.backup import BackupError

    engine = make_engine()
    junk = tmp_path / "junk.tar.gz"
    junk.write_text("hello")
    with pytest.raises(BackupError, match="is not a Followup backup archive"):
        restore_backup(engine.settings, junk)
