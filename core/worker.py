"""The background worker: a huey consumer running ``core.tasks``.

``python -m core.worker`` (or ``followup worker``). SIGINT/SIGTERM stop it gracefully:
running tasks finish, queued tasks stay in the queue for the next start.
"""

from __future__ import annotations

import logging
import os
import sys

from . import heartbeat
from .config import ConfigError, Settings, load_settings
from .engine import Engine
from .logs import configure_from_settings, configure_logging
from .models import SellerAccount
from .queue import make_huey
from .sync import sync_running
from .tasks import EngineQueue

log = logging.getLogger(__name__)


def run_worker(settings: Settings) -> int:
    configure_from_settings(settings)  # also when started as ``followup worker``
    engine = Engine(settings)
    engine.migrate()
    _release_interrupted_syncs()
    heartbeat.beat()  # shown as alive from the start, before the first minute tick
    runtime = EngineQueue(engine, make_huey(settings))
    consumer = runtime.huey.create_consumer(
        workers=settings.get("queue", "workers"),
        worker_type="thread",
        periodic=True,
        check_worker_health=True,
    )
    log.info("worker started with %s threads", settings.get("queue", "workers"))
    consumer.run()
    return 0


def _release_interrupted_syncs() -> None:
    """A sync cut off by a stopped worker resumes from its cursor at the next tick.

    Only syncs whose lease ran out: another worker process may be syncing right now."""
    text = "sync interrupted when the worker stopped; it resumes"
    for account in SellerAccount.select().where(SellerAccount.status == "syncing"):
        if not sync_running(account.id):
            SellerAccount.update(status="error", status_message=text).where(
                (SellerAccount.id == account.id) & (SellerAccount.status == "syncing")
            ).execute()


def main() -> int:
    os.umask(0o077)  # files the worker writes are private (core/files.py)
    configure_logging("INFO")
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    return run_worker(settings)


if __name__ == "__main__":
    sys.exit(main())
