"""Time in one place: storage is naive UTC, and tests can move the clock."""

from __future__ import annotations

from datetime import UTC, datetime

_frozen: datetime | None = None


def utcnow() -> datetime:
    """Now in UTC, naive (the form every DateTimeField stores)."""
    if _frozen is not None:
        return _frozen
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime | None) -> datetime | None:
    """Aware datetimes are converted to UTC; naive ones are taken as UTC already."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def freeze(value: datetime | None) -> None:
    """Pin ``utcnow`` (tests and dry runs over past orders); ``None`` releases it."""
    global _frozen
    _frozen = to_naive_utc(value)
