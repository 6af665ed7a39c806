"""Signs of life an operator needs: is the worker running, are due messages going out,
when was the last backup. Read by the dashboard, ``/healthz``, ``/metrics`` and
``followup doctor``; written by the worker's minute tick and by ``followup backup``.

A row per worker host (``worker@HOST``), so two machines sharing a PostgreSQL database
each show up; "the worker" is alive when the freshest of them is.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import fn

from .clock import utcnow
from .contracts import RETRY, SCHEDULED, SENDING_STATUSES
from .db import database
from .models import Campaign, Heartbeat, Message

# The tick runs every minute; three missed ticks mean the worker is gone or stuck.
WORKER_STALE = timedelta(minutes=3)
# A due message still waiting this long after its due time was not picked up: the
# dispatcher runs every minute, so this is a worker down or far behind.
OVERDUE_AFTER = timedelta(minutes=15)
BACKUP_STALE = timedelta(days=1)
BACKUP = "backup"
WORKER_PREFIX = "worker@"


def _upsert(name: str, detail: str) -> None:
    now = utcnow()
    with database.atomic():
        updated = (
            Heartbeat.update(beat_at=now, detail=detail).where(Heartbeat.name == name).execute()
        )
        if not updated:
            Heartbeat.insert(name=name, beat_at=now, detail=detail).on_conflict(
                conflict_target=[Heartbeat.name], update={Heartbeat.beat_at: now}
            ).execute()


def beat() -> None:
    """The worker is alive (called from the minute tick and at worker start)."""
    _upsert(f"{WORKER_PREFIX}{socket.gethostname()}", f"pid {os.getpid()}")


def record_backup(detail: str) -> None:
    """A backup was just written (``detail``: the archive's file name, no path)."""
    _upsert(BACKUP, detail)


@dataclass(frozen=True)
class Seen:
    at: datetime
    detail: str

    def age(self) -> timedelta:
        return utcnow() - self.at


def last_worker() -> Seen | None:
    """The freshest worker heartbeat, or None if no worker ever ran here."""
    row = (
        Heartbeat.select()
        .where(Heartbeat.name.startswith(WORKER_PREFIX))
        .order_by(Heartbeat.beat_at.desc())
        .first()
    )
    if row is None:
        return None
    return Seen(row.beat_at, f"{row.name[len(WORKER_PREFIX) :]}, {row.detail}")


def last_backup() -> Seen | None:
    row = Heartbeat.get_or_none(Heartbeat.name == BACKUP)
    return Seen(row.beat_at, row.detail) if row else None


def overdue() -> tuple[int, datetime | None]:
    """(how many, the oldest due time) of messages the dispatcher would claim that are
    due longer than ``OVERDUE_AFTER`` (same filter as ``core.dispatch.claim``: a
    paused campaign's messages wait on purpose)."""
    cutoff = utcnow() - OVERDUE_AFTER
    where = (
        Message.state.in_((SCHEDULED, RETRY))
        & (Message.due_at < cutoff)
        & Campaign.status.in_(SENDING_STATUSES)
    )
    q = Message.select(fn.COUNT(Message.id), fn.MIN(Message.due_at)).join(
        Campaign, on=(Message.campaign == Campaign.id)
    )
    count, oldest = q.where(where).tuples().get()
    if count and isinstance(oldest, str):  # SQLite hands MIN() back as text
        oldest = datetime.fromisoformat(oldest)
    return int(count or 0), oldest if count else None


def describe_age(age: timedelta) -> str:
    """``"42 s"``, ``"7 min"``, ``"3 h"``, ``"2 days"``: for people."""
    seconds = max(0, int(age.total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"
