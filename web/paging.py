"""Keyset paging for long lists ordered newest first by (time desc, id desc).

A cursor names the last row shown, so a page never repeats or skips rows when new ones
arrive between clicks (an OFFSET would shift).
"""

from __future__ import annotations

from datetime import datetime


def keyset_cursor(when: datetime, pk: int) -> str:
    """The ``after`` cursor of a list ordered by (time desc, id desc)."""
    return f"{when.isoformat()}_{pk}"


def keyset_after(time_field, id_field, after: str):
    """The condition for rows after ``keyset_cursor(when, pk)``; ValueError if malformed."""
    stamp, pk = after.rsplit("_", 1)
    when, pk = datetime.fromisoformat(stamp), int(pk)
    return (time_field < when) | ((time_field == when) & (id_field < pk))
