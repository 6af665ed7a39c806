"""A real worker process (``python -m core.worker``) for the SIGKILL tests: its config
file (SqliteHuey file + the app's SQLite file), starting and stopping it, and polling."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from core.clock import utcnow
from core.contracts import IN_DOUBT, RETRY, SCHEDULED, SENDING
from core.models import Message

from . import backend

REPO = Path(__file__).resolve().parents[2]


def _storage(tmp_path: Path) -> str:
    """The database and queue sections: files under ``tmp_path``, or with
    ``FOLLOWUP_TEST_BACKEND=postgres`` the session's PostgreSQL database and Redis."""
    if backend.BACKEND == "postgres":
        queue = backend.defaults()["queue"]
        return (
            f'[database]\nurl = "{backend.database_url()}"\n'
            f'[queue]\nbackend = "redis"\nredis_url = "{queue["redis_url"]}"\n'
            f'name = "{queue["name"]}"'
        )
    return (
        f'[database]\nurl = "sqlite:///{tmp_path}/data/app.db"\n'
        f'[queue]\nbackend = "sqlite"\npath = "{tmp_path}/data/queue.db"'
    )


def worker_config(
    tmp_path: Path,
    plugins: list[str],
    plugin_settings: dict | None = None,
    extra_toml: str = "",
    *,
    workers: int | None = 1,
    lease_seconds: int = 2,
    batch_size: int = 50,
) -> Path:
    """``tmp_path/config.toml`` for a worker: ``workers`` huey worker threads (None: the
    shipped default, the key left out) on a SqliteHuey file, ``lease_seconds`` leases.
    ``plugin_settings``: ``{plugin: {key: str | int}}``."""
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
{_storage(tmp_path)}
{"" if workers is None else f"workers = {workers}"}
[security]
encryption_key = {{ file = "{tmp_path}/key", generate = true }}
[dispatch]
lease_seconds = {lease_seconds}
batch_size = {batch_size}
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


def owner_pid(lease_owner: str) -> int | None:
    """The process id in a lease owner (``host:pid:nonce``, ``core.dispatch.worker_id``)."""
    parts = lease_owner.split(":")
    return int(parts[-2]) if len(parts) >= 3 and parts[-2].isdigit() else None


class WorkerPool:
    """``size`` worker processes on one config and one database, as a seller running
    ``followup worker`` twice (two machines, or a restart overlapping the old process).
    """

    def __init__(self, config: Path, size: int, **env: str | None):
        self.config, self.env = config, env
        self.procs = [start_worker(config, **env) for _ in range(size)]

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def restart(self, index: int, sig=signal.SIGKILL) -> int:
        """Stop process ``index`` with ``sig`` (waiting for it), start a new one in its
        place; returns the stopped process's exit code."""
        stop(self.procs[index], sig)
        code = self.procs[index].returncode
        self.procs[index] = start_worker(self.config, **self.env)
        return code

    def stop(self, sig=signal.SIGINT) -> list[int]:
        """Stop every process (SIGINT: running tasks finish); returns the exit codes.
        The signal is sent once: huey takes a second SIGINT as "stop now"."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(sig)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        return [proc.returncode for proc in self.procs]

    def kill(self) -> None:
        for proc in self.procs:
            stop(proc, signal.SIGKILL)


def keep_dispatch_queued(runtime, depth: int) -> int:
    """Enqueue dispatch tasks until ``depth`` wait in the queue, so every worker thread
    keeps starting dispatch rounds (each round first recovers expired leases, as the
    minute tick does in production); returns how many were enqueued."""
    missing = max(0, depth - runtime.huey.pending_count())
    for _ in range(missing):
        runtime.dispatch()
    return missing


def pending_work(reconciled: tuple[str, ...] = ()):
    """Messages the workers still have to act on: sending, due, or in doubt with a
    sender in ``reconciled`` (whose reconcile asks the channel) and not yet retried
    once (one that was stays in doubt for a person)."""
    return Message.select().where(
        (Message.state == SENDING)
        | (Message.state.in_((SCHEDULED, RETRY)) & (Message.due_at <= utcnow()))
        | (
            (Message.state == IN_DOUBT)
            & Message.sender.in_(reconciled)
            & (Message.reason != "reconciled: retried once")
        )
    )


def settle(
    pool: WorkerPool, tick: Callable[[], object], until: float, reconciled: tuple[str, ...] = ()
) -> tuple[bool, Counter, list[int]]:
    """Call ``tick`` (it keeps dispatch tasks queued) until the workers have nothing left
    to do (``pending_work``) or the monotonic deadline ``until``, then stop the pool with
    SIGINT. Returns whether they got there, what was left by (sender, state), and the
    processes' exit codes."""

    def settled() -> bool:
        tick()
        return not pending_work(reconciled).exists()

    calm = wait_for(settled, until=until, poll=0.2)
    left = Counter((m.sender, m.state) for m in pending_work(reconciled))
    return calm, left, pool.stop(signal.SIGINT)
