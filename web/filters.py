"""Jinja filters and globals every page uses: times in the seller's zone, state labels."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from core.order_trace import state_label as plain_state

from .dates import seller_tz


def init_app(app: Flask) -> None:
    @app.template_filter("dt")
    def format_dt(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return "—"
        return value.replace(tzinfo=ZoneInfo("UTC")).astimezone(seller_tz()).strftime(fmt)

    @app.template_filter("state_label")
    def state_label(value: str) -> str:
        return plain_state(value)

    @app.context_processor
    def _globals():
        return {"seller_tz": str(seller_tz())}
