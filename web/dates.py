"""Dates as pages show and filter them: the seller's time zone and the day filters."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import g, has_request_context
from peewee import DatabaseError, InterfaceError

from core.runtime_settings import timezone

from .context import engine


def seller_tz() -> ZoneInfo:
    """The seller's time zone in force (``[app] timezone``, or the one saved on the
    Settings page), in which pages show times; read once per request."""
    if has_request_context() and "seller_tz" in g:
        return g.seller_tz
    try:
        tz = ZoneInfo(timezone(engine()))
    except (DatabaseError, InterfaceError):  # an error page about the database itself
        tz = ZoneInfo(engine().settings.get("app", "timezone"))
    if has_request_context():
        g.seller_tz = tz
    return tz


def parse_day(value: str) -> datetime | None:
    """A ``YYYY-MM-DD`` filter value as that day's midnight; None if empty or malformed."""
    try:
        return datetime.strptime(value.strip(), "%Y-%m-%d")
    except ValueError:
        return None


def date_range(args) -> tuple[datetime | None, datetime | None, list[str]]:
    """The ``from`` / ``to`` day filters in ``args``: (start, end, malformed names).

    ``end`` is exclusive, the day after ``to``, because "to" is inclusive.
    """
    start, to = parse_day(args.get("from", "")), parse_day(args.get("to", ""))
    bad = [k for k in ("from", "to") if args.get(k) and not parse_day(args[k])]
    return start, (to + timedelta(days=1) if to else None), bad
