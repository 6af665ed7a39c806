"""Jinja filters and helpers shared by every page (dates, states, the engine)."""

from __future__ import annotations

from datetime import datetime
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


def init_app(app: Flask) -> None:
    tz = ZoneInfo(app.extensions["followup"].settings.get("app", "timezone"))

    @app.template_filter("dt")
    def format_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return "—"
        return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).strftime(fmt)

    @app.template_filter("state_label")
    def state_label(value: str) -> str:
        return STATE_LABELS.get(value, value)

    @app.context_processor
    def _globals():
        return {"seller_tz": str(tz)}
