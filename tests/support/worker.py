"""A real worker process (``python -m core.worker``) for the SIGKILL tests: its config
file (SqliteHuey file + the app's SQLite file), starting and stopping it, and polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from core.clock import utcnow
from core.contracts import SENDING
from core.models import Message

REPO = Path(__file__).resolve().parents[2]


def worker_config(
    tmp_path: Path, plugins: list[str], plugin_settings: dict | None = None, extra_toml: str = ""
) -> Path:
    """``tmp_path/config.toml`` for a worker: one huey worker on a SqliteHuey file,
    2-second leases. ``plugin_settings``: ``{plugin: {key: str | int}}``."""
    sections = "".join(
        f"[plugin_settings.{name}]\n"
        + "".join(f"{key} = {json.dumps(value)}\n" for key, value in values.items())
        for name, values in (plugin_settings or {}).items()
    )
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[app]
data_dir = "{tmp_path}/data"
[web]
secret_key = {{ file = "{tmp_path}/secret", generate = true }}
[database]
url = "sqlite:///{tmp_path}/data/app.db"
[queue]
backend = "sqlite"
path = "{tmp_path}/data/queue.db"
workers = 1
[security]
encryption_key = {{ file = "{tmp_path}/key", generate = true }}
[dispatch]
lease_seconds = 2
batch_size = 50
[plugins]
enabled = {json.dumps(list(plugins))}
entrypoints = false
{sections}{extra_toml}"""
    )
    return path


def start_worker(config: Path, **env: str | None) -> subprocess.Popen:
    """``python -m core.worker`` on ``config``; ``env`` is added to this process's
    environment (a ``None`` value removes the variable). stderr goes to worker.log."""
    environ = dict(
        os.environ,
        FOLLOWUP_CONFIG=str(config),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    )
    for name, value in env.items():
        if value is None:
            environ.pop(name, None)
        else:
            environ[name] = value
    return subprocess.Popen(
        [sys.executable, "-m", "core.worker"],
        cwd=REPO,
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=(config.parent / "worker.log").open("ab"),
    )


def stop(worker: subprocess.Popen, sig=signal.SIGKILL) -> None:
    """Send ``sig`` and wait for the worker to exit (killing it if it does not)."""
    if worker.poll() is None:
        worker.send_signal(sig)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(timeout=5)


def worker_log(config: Path) -> str:
    """The end of the worker's stderr, for assertion messages."""
    path = config.parent / "worker.log"
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def wait_for(
    predicate: Callable[[], bool],
    timeout: float = 30.0,
    *,
    until: float | None = None,
    poll: float = 0.05,
) -> bool:
    """Poll ``predicate`` until it holds, for ``timeout`` seconds or until the monotonic
    deadline ``until``; the answer is its last value."""
    deadline = time.monotonic() + timeout if until is None else until
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll)
    return bool(predicate())


def leases_expired() -> bool:
    """No message is held by a live lease (a killed worker's expire after
    ``[dispatch] lease_seconds``)."""
    return not (
        Message.select()
        .where((Message.state == SENDING) & (Message.lease_until >= utcnow()))
        .exists()
    )
