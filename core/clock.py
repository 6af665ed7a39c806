"""Time in one place: storage is naive UTC, and tests can move the clock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

_frozen: datetime | None = None
# Per thread (and per asyncio task): a dry run in one web request must not move the
# clock of another request or of the worker.
_as_of: ContextVar[datetime | None] = ContextVar("followup_as_of", default=None)


def utcnow() -> datetime:
    """Now in UTC, naive (the form every DateTimeField stores)."""
    pinned = _as_of.get()
    if pinned is not None:
        return pinned
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC).replace(tzinfo=None)


@contextmanager
def as_of(value: datetime) -> Iterator[None]:
    """Within the block, ``utcnow`` is ``value`` for this thread only (the dry run asks
    "would this have been allowed when it was due?", not "is it allowed today?")."""
    token = _as_of.set(to_naive_utc(value))
    try:
        yield
    finally:
        _as_of.reset(token)


def to_naive_utc(value: datetime | None) -> datetime | None:
    """Aware datetimes are converted to UTC; naive ones are taken as UTC already."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def freeze(value: datetime | None) -> None:
    """Pin ``utcnow`` (tests and dry runs over past orders); ``None`` releases it."""
    global _frozen
    _frozen = to_naive_utc(value)
