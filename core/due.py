"""When a planned message is due: the trigger's anchor + the step's delay, moved into the
step's send window in the buyer's marketplace time zone."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from .models import Order, Step

MAX_WINDOW_SEARCH_DAYS = 21


@lru_cache(maxsize=64)
def _holidays(country: str):
    try:
        return holidays_lib.country_holidays(country)
    except NotImplementedError:
        return {}


def send_days(step: Step) -> set[int]:
    """The weekdays (Monday = 0) a step may send on; none stored means every day."""
    return {int(d) for d in step.weekdays if d.isdigit()} or set(range(7))


def fit_send_window(due: datetime, step: Step, timezone: str, country: str) -> datetime:
    """Move a naive-UTC due time to the first moment inside the step's send window.

    The window is in the buyer's marketplace time zone (a 9:00 send in Tokyo is not a
    9:00 send in New York), on allowed weekdays, skipping that country's public holidays
    when the step asks.
    """
    tz = ZoneInfo(timezone)
    local = due.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    start, end = step.window_start_hour, step.window_end_hour
    days = send_days(step)
    hols = _holidays(country) if step.skip_holidays and country else {}
    for _ in range(MAX_WINDOW_SEARCH_DAYS):
        ok_day = local.weekday() in days and local.date() not in hols
        if ok_day and start <= local.hour < end:
            break
        if ok_day and local.hour < start:
            local = local.replace(hour=start, minute=0, second=0, microsecond=0)
            break
        local = (local + timedelta(days=1)).replace(hour=start, minute=0, second=0, microsecond=0)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def due_time(engine, order: Order, step: Step, events) -> tuple[datetime | None, str, str]:
    """(due_at, explanation, decided_by) or (None, waiting reason, decided_by)."""
    trigger = engine.triggers.get(step.trigger)
    if trigger is None:
        return None, f"waiting: trigger {step.trigger!r} is not available", "core"
    anchor = trigger.anchor(engine, order, events)
    if anchor is None:
        return None, trigger.waiting_reason, "trigger"
    why = f"{step.trigger} {anchor:%Y-%m-%d %H:%M}"
    by = "core"
    if step.anchor == "review_window":
        window = engine.review_window(order)
        if window is None:
            return None, "waiting: delivery date unknown, review window not known", "core"
        anchor = max(anchor, window.opens)
        why = f"review window opens {window.opens:%Y-%m-%d} ({window.source})"
        by = window.source
    delay = timedelta(days=step.delay_days, hours=step.delay_hours)
    mkt = engine.marketplace(order.marketplace)
    due = fit_send_window(
        anchor + delay, step, mkt.timezone if mkt else "UTC", mkt.country if mkt else ""
    )
    adjusted = engine.adjust_send_time(order, step, due)
    if adjusted:
        due, note = adjusted
        why = f"{why}; {note}"
    if step.delay_days or step.delay_hours:
        why = f"{why} + {step.delay_days}d {step.delay_hours}h"
    return due, why, by
