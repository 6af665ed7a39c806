"""Named leases in the application database: work that one process of the whole
installation does at a time, however many worker processes run.

* ``tick``: the periodic tick's installation-wide part (order syncs, re-plans, plugin
  jobs). Every worker process's scheduler enqueues a tick each minute; the first to run
  in a minute takes the lease until the minute ends, the others find it taken.
* ``sync:<account id>``: one order sync per seller account at a time (two at once would
  spend the account's order-search quota twice); renewed while the sync makes progress,
  so a crashed worker's lease simply runs out.
* ``job:<name>``: a plugin job, held for its interval, so it runs once per interval in
  the installation rather than once per process.

Taking a lease is one conditional UPDATE (the row is created on first use): on SQLite
inside ``BEGIN IMMEDIATE``, on PostgreSQL the row lock makes a second taker re-read the
new expiry and find it taken.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .clock import utcnow
from .db import write_transaction
from .models import Lease

NEVER = datetime(1970, 1, 1)


def acquire(name: str, owner: str, until: datetime) -> bool:
    """Take ``name`` for ``owner`` until ``until`` if it is free (nobody's, or run out)."""
    now = utcnow()
    with write_transaction():
        Lease.insert(name=name, owner="", expires_at=NEVER).on_conflict_ignore().execute()
        taken = (
            Lease.update(owner=owner, expires_at=until)
            .where((Lease.name == name) & (Lease.expires_at <= now))
            .execute()
        )
    return bool(taken)


def renew(name: str, owner: str, until: datetime) -> bool:
    """Extend ``owner``'s lease; False when another owner took it (it had run out)."""
    mine = (Lease.name == name) & (Lease.owner == owner)
    return bool(Lease.update(expires_at=until).where(mine).execute())


def release(name: str, owner: str) -> None:
    """Give ``name`` up now, if ``owner`` still holds it."""
    Lease.update(owner="", expires_at=NEVER).where(
        (Lease.name == name) & (Lease.owner == owner)
    ).execute()


def held(name: str) -> bool:
    """Whether someone holds ``name`` now."""
    return Lease.select().where((Lease.name == name) & (Lease.expires_at > utcnow())).exists()


def slot_end(seconds: int, now: datetime | None = None) -> datetime:
    """The end of the ``seconds``-long slot (aligned to the epoch) that ``now`` is in."""
    now = now or utcnow()
    into = (now - NEVER).total_seconds() % seconds
    return now + timedelta(seconds=seconds - into)
