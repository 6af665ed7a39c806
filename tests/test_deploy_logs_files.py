"""Logs and file permissions on a deployed install: ``[app] log_level``/``log_format``
reach every process, each dispatch outcome is one line with ids (no buyer text), and
everything Followup creates under the data folder is private (0600 files, 0700 folder).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from core.demo import load_demo
from core.logs import JsonFormatter, configure_logging
from core.models import Message
from core.queue import make_huey
from core.tasks import EngineQueue

REPO = Path(__file__).resolve().parents[1]


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_json_format_is_one_object_per_line_with_the_dispatch_fields():
    record = logging.LogRecord(
        "core.dispatch", logging.INFO, __file__, 1, "message %s sent", (7,), None
    )
    record.message_id, record.channel = 7, "solicitation"
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert data["message"] == "message 7 sent" and data["level"] == "INFO"
    assert data["message_id"] == 7 and data["channel"] == "solicitation"
    assert data["time"].endswith("+00:00")


def test_configure_logging_replaces_its_handler_and_honours_the_level(monkeypatch):
    monkeypatch.delenv("FOLLOWUP_LOG_LEVEL", raising=False)
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        configure_logging("WARNING")
        configure_logging("DEBUG", "json")
        ours = [h for h in root.handlers if getattr(h, "_followup", False)]
        assert len(ours) == 1 and isinstance(ours[0].formatter, JsonFormatter)
        assert root.level == logging.DEBUG
    finally:
        for h in root.handlers[:]:
            if h not in before:
                root.removeHandler(h)


def test_each_dispatch_outcome_is_one_info_line_with_ids_and_no_buyer_text(engine, caplog):
    caplog.set_level(logging.INFO, logger="core.dispatch")
    load_demo(engine)  # plans and dispatches through the dry-run sender
    done = list(Message.select().where(Message.state.in_(("sent", "skipped", "failed"))))
    assert done
    lines = [r for r in caplog.records if getattr(r, "event", "") == "dispatch"]
    by_id = {r.message_id: r for r in lines if r.levelno == logging.INFO}
    for message in done:
        record = by_id[message.id]
        assert record.state == message.state
        assert record.order_id == message.order.order_id  # Amazon's id, 3-7-7
        assert record.campaign_id == message.campaign_id
        assert record.channel == message.sender
        text = record.getMessage()
        assert message.order.order_id in text and message.sender in text
        if message.body:
            assert message.body[:40] not in text
    assert len([r for r in lines if r.levelno == logging.INFO]) == len(done)


def _install(tmp_path: Path, app_extra: str = "") -> Path:
    config = (REPO / "config.toml").read_text().replace("entrypoints = true", "entrypoints = false")
    if app_extra:  # replaces the [app] log lines of the shipped config
        config = re.sub(r"(?m)^log_(level|format) = .*\n", "", config)
        config = config.replace("[app]\n", f"[app]\n{app_extra}\n", 1)
    (tmp_path / "config.toml").write_text(config)
    return tmp_path / "config.toml"


def _followup(config: Path, *args, **popen):
    env = dict(os.environ, FOLLOWUP_CONFIG=str(config), PYTHONPATH=str(REPO))
    env.pop("FOLLOWUP_LOG_LEVEL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "core.cli", *args], cwd=config.parent, env=env, **popen
    )


def test_followup_worker_logs_at_the_configured_level_in_json(tmp_path):
    config = _install(tmp_path, 'log_level = "INFO"\nlog_format = "json"')
    assert _followup(config, "init", stdout=subprocess.DEVNULL).wait(60) == 0
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as err:
        worker = _followup(config, "worker", stdout=subprocess.DEVNULL, stderr=err)
        try:
            deadline = time.monotonic() + 120  # a loaded CI machine starts slowly
            while "worker started" not in log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            worker.send_signal(signal.SIGINT)
            worker.wait(30)
    lines = [json.loads(x) for x in log_path.read_text().splitlines() if x.startswith("{")]
    started = [x for x in lines if x["message"].startswith("worker started")]
    assert started and started[0]["level"] == "INFO", log_path.read_text()[-2000:]


def test_warning_level_keeps_the_worker_quiet(tmp_path):
    config = _install(tmp_path, 'log_level = "WARNING"')
    assert _followup(config, "init", stdout=subprocess.DEVNULL).wait(60) == 0
    log_path = tmp_path / "worker.log"
    with log_path.open("wb") as err:
        worker = _followup(config, "worker", stdout=subprocess.DEVNULL, stderr=err)
        db = tmp_path / "data" / "followup.db"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _heartbeats(db):
            time.sleep(0.2)
        time.sleep(2)  # past "worker started" and the consumer's own start-up lines
        worker.send_signal(signal.SIGINT)
        worker.wait(30)
    assert _heartbeats(db), "the worker never started"
    assert " INFO " not in log_path.read_text()


def _heartbeats(db: Path) -> int:
    import sqlite3

    conn = sqlite3.connect(db, timeout=10)
    try:
        return conn.execute("SELECT COUNT(*) FROM heartbeat").fetchone()[0]
    finally:
        conn.close()


def test_init_creates_a_private_data_folder_database_and_keys(tmp_path):
    config = _install(tmp_path)
    assert _followup(config, "init", stdout=subprocess.DEVNULL).wait(60) == 0
    data = tmp_path / "data"
    assert mode(data) == 0o700
    for name in ("followup.db", "secret_key", "encryption_key"):
        assert mode(data / name) == 0o600, name
    for path in data.iterdir():
        assert mode(path) & 0o077 == 0, f"{path} is {mode(path):04o}"


def test_database_wal_shm_and_queue_files_are_private_whatever_the_umask(make_engine, tmp_path):
    old = os.umask(0o022)  # a shell's usual umask: files would be 0644
    try:
        engine = make_engine(queue={"backend": "sqlite", "path": str(tmp_path / "data" / "q.db")})
        runtime = EngineQueue(engine, make_huey(engine.settings))
        runtime.plan_all()  # enqueued in the SqliteHuey file
        load_demo(engine)  # writes through the WAL
    finally:
        os.umask(old)
    data = tmp_path / "data"
    assert mode(data) == 0o700
    names = {p.name for p in data.iterdir()}
    assert {"followup.db", "followup.db-wal", "followup.db-shm", "q.db"} <= names
    for path in data.iterdir():
        assert mode(path) == 0o600, f"{path} is {mode(path):04o}"
    assert mode(tmp_path / "enc_key") == 0o600


def test_a_sqlite_path_in_a_missing_folder_is_refused_not_created(make_settings, tmp_path):
    import pytest

    from core.config import ConfigError
    from core.engine import Engine

    elsewhere = tmp_path / "typo" / "deeper"
    settings = make_settings(database={"url": f"sqlite:///{elsewhere}/followup.db"})
    with pytest.raises(ConfigError, match=r"\[database\] url: folder .*typo/deeper does not exist"):
        Engine(settings)
    assert not (tmp_path / "typo").exists()
