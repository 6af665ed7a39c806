"""Jinja filters and helpers shared by every page (dates, states, the engine)."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Flask, current_app

STATE_LABELS = {
    "scheduled": "Scheduled",
    "sending": "Sending",
    "sent": "Sent",
    "skipped": "Skipped",
    "failed": "Failed",
    "retry": "Will retry",
    "in_doubt": "In doubt",
    "cancelled": "Cancelled",
}


def engine():
    """The process's ``core.engine.Engine``."""
    return current_app.extensions["followup"]


def runtime():
    return current_app.extensions["followup_runtime"]


def audit(action: str, target: str = "", detail: str = "") -> None:
    from core.models import AuditLog

    from .security import current_user

    user = current_user()
    AuditLog.create(user=user.username if user else "", action=action, target=target, detail=detail)


def seller_tz() -> ZoneInfo:
    """The seller's time zone in force (``[app] timezone``, or the one saved on the
    Settings page), in which pages show times; read once per request."""
    from flask import g, has_request_context

    from core.runtime_settings import timezone

    if has_request_context() and "seller_tz" in g:
        return g.seller_tz
    from peewee import DatabaseError, InterfaceError

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


def keyset_cursor(when: datetime, pk: int) -> str:
    """The ``after`` cursor of a list ordered by (time desc, id desc)."""
    return f"{when.isoformat()}_{pk}"


def keyset_after(time_field, id_field, after: str):
    """The condition for rows after ``keyset_cursor(when, pk)``; ValueError if malformed."""
    stamp, pk = after.rsplit("_", 1)
    when, pk = datetime.fromisoformat(stamp), int(pk)
    return (time_field < when) | ((time_field == when) & (id_field < pk))


def init_app(app: Flask) -> None:
    @app.template_filter("dt")
    def format_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return "—"
        return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(seller_tz()).strftime(fmt)

    @app.template_filter("state_label")
    def state_label(value: str) -> str:
        return STATE_LABELS.get(value, value)

    @app.context_processor
    def _globals():
        return {"seller_tz": str(seller_tz())}
