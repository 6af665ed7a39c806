"""review_timing: when to ask for a review, per marketplace.

* ``review_request_window``: Amazon's Request a Review window, 5 days after the earliest
  to 30 days after the latest delivery date (docs/amazon-rules.md §2.1), named ``review_timing`` in
  the order trace. ``tryfirst`` so it wins over the core default and over any other
  plugin's window (both hooks are ``firstresult``).
* ``adjust_send_time`` (review requests only): waits a per-marketplace number of days
  after the window opens (more for FBA estimates and cross-border orders), optionally
  until most of the return period has passed, then moves the send to a good local hour
  (10:00-11:00 in the marketplace's time zone) on a working day that is not a public
  holiday in the buyer's country. Never past the window's end.
* Settings per marketplace (Plugins page): ``offset_days``, ``local_hour``,
  ``avoid_returns``, ``return_period_days``, ``skip_holidays``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from core import (
    SettingField,
    SettingsPage,
    TimeWindow,
    for_steps,
    hookimpl,
    is_review_request,
    utcnow,
)

from .timing import (
    CLOSING_MARGIN,
    after_returns,
    amazon_window,
    country_code,
    default_offset,
    good_local_time,
    return_period,
    weekdays_for,
)

log = logging.getLogger(__name__)

PLUGIN = "review_timing"
DEFAULT_HOUR = 10
# Room left before the window closes for the dispatcher, Amazon's rate limit and a retry:
# a Request a Review after the window gets a 403 that must not be retried
# (docs/amazon-rules.md §2.1).
SEND_MARGIN = timedelta(hours=2)


@dataclass(frozen=True)
class TimingSettings:
    """One marketplace's settings, parsed; ``None`` means "the marketplace default"."""

    offset_days: int | None = None
    local_hour: int = DEFAULT_HOUR
    avoid_returns: bool = False
    return_period_days: int | None = None
    skip_holidays: bool = True


def _int(value, low: int, high: int, default):
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        log.warning("review_timing: %r is not a whole number; using %r", value, default)
        return default
    return min(max(number, low), high)


def _bool(value, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def settings_for(engine, marketplace: str) -> TimingSettings:
    """The plugin's settings for ``marketplace`` (marketplace value, then global, then
    config.toml, then the defaults of the settings page)."""

    get = engine.plugin_settings(PLUGIN, marketplace).get  # one query, not one per key

    return TimingSettings(
        offset_days=_int(get("offset_days"), 0, 60, None),
        local_hour=_int(get("local_hour"), 0, 23, DEFAULT_HOUR),
        avoid_returns=_bool(get("avoid_returns"), False),
        return_period_days=_int(get("return_period_days"), 1, 120, None),
        skip_holidays=_bool(get("skip_holidays"), True),
    )


# Whether a step is a review request (Amazon's button or a free-text request): core's test.
asks_for_review = is_review_request


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


@hookimpl(tryfirst=True)
def review_request_window(engine, order):
    """Amazon's window from the order's delivery window (confirmed or estimated)."""
    delivery = engine.delivery_window(order)
    if delivery is None or (delivery.earliest is None and delivery.latest is None):
        return None  # not known yet: the trace says "waiting: delivery date unknown"
    earliest = delivery.earliest or delivery.latest
    latest = delivery.latest or delivery.earliest
    opens, closes = amazon_window(earliest, latest)
    return TimeWindow(opens, closes, PLUGIN)


@hookimpl(tryfirst=True)
@for_steps(asks_for_review)
def adjust_send_time(engine, order, step, due_at):
    """Pick the review request's send time and say why, for the order trace."""
    if not asks_for_review(engine, step):
        return None
    window = engine.review_window(order)
    if window is None:
        return None
    delivery = engine.delivery_window(order)
    mkt = engine.marketplace(order.marketplace)
    timezone = mkt.timezone if mkt else "UTC"
    home = country_code(mkt.country) if mkt else ""
    ship_to = country_code(order.ship_country)
    cross_border = bool(ship_to and home and ship_to != home)
    estimated = delivery is None or not delivery.confirmed
    cfg = settings_for(engine, order.marketplace)

    notes = [
        f"review window from {PLUGIN}: opens {window.opens:%Y-%m-%d %H:%M}, "
        f"closes {window.closes:%Y-%m-%d %H:%M} UTC"
    ]
    offset, why = default_offset(
        order.marketplace, estimated=estimated, cross_border=cross_border, base=cfg.offset_days
    )
    target = max(due_at, window.opens + timedelta(days=offset), utcnow())
    notes.append(f"waits at least {_days(offset)} after it opens ({why})")

    if cfg.avoid_returns:
        period = return_period(order.marketplace, cfg.return_period_days)
        delivered = (delivery.latest if delivery else None) or window.opens
        wait = after_returns(delivered, period)
        if wait > window.closes - CLOSING_MARGIN:
            notes.append(
                f"does not wait for the {period}-day return period: it would end after "
                "the review window closes"
            )
        elif wait > target:
            target = wait
            notes.append(
                f"waits until {wait:%Y-%m-%d}, when most of the {period}-day return period "
                "has passed"
            )

    hour = cfg.local_hour
    if not step.window_start_hour <= hour < step.window_end_hour:
        hour = step.window_start_hour  # the step's own send window wins
    slot = good_local_time(
        target,
        timezone=timezone,
        hour=hour,
        weekdays=weekdays_for(order.marketplace, step.weekdays or "0123456"),
        country=ship_to or home,
        skip_holidays=cfg.skip_holidays,
    )
    where = f"{hour:02d}:00-{hour + 1:02d}:00 {timezone} on a working day"
    if target > window.closes:
        notes.append(f"{target:%Y-%m-%d} is after the review window closes: Amazon will refuse it")
        return target, "; ".join(notes)
    if slot.due > window.closes - SEND_MARGIN:
        notes.append(
            f"send time kept at {target:%Y-%m-%d %H:%M} UTC by {PLUGIN}: no {where} "
            "before the review window closes"
        )
        return target, "; ".join(notes)
    moved = "; ".join(slot.skipped)
    if slot.due != due_at:
        detail = f"{where}; {moved}" if moved else where
        notes.append(f"send time moved by {PLUGIN} to {slot.local:%Y-%m-%d %H:%M} local ({detail})")
    return slot.due, "; ".join(notes)


@hookimpl
def register_settings_pages(engine):
    return [
        SettingsPage(
            PLUGIN,
            "Review timing",
            (
                SettingField(
                    "offset_days",
                    "Days to wait after the review window opens",
                    "int",
                    None,
                    "Empty: the marketplace's default (1-4 days). FBA estimates add 2 days, "
                    "cross-border orders 4. 0 to 25: the window closes 25 days after it opens.",
                    minimum=0,
                    maximum=25,
                ),
                SettingField(
                    "local_hour",
                    "Send at this local hour (buyer's marketplace time zone)",
                    "int",
                    DEFAULT_HOUR,
                    "0-23; 10 sends between 10:00 and 11:00 on a working day.",
                    minimum=0,
                    maximum=23,
                ),
                SettingField(
                    "avoid_returns",
                    "Wait until most of the return period has passed",
                    "bool",
                    False,
                    "Only when that still fits in Amazon's review window.",
                ),
                SettingField(
                    "return_period_days",
                    "Return period (days)",
                    "int",
                    None,
                    "Empty: the marketplace's usual period (30 days in the EU, UK, US, JP).",
                    minimum=0,
                    maximum=365,
                ),
                SettingField(
                    "skip_holidays",
                    "Skip public holidays in the buyer's country",
                    "bool",
                    True,
                ),
            ),
            "When to ask for a review: Amazon's window, a few days after it opens, "
            "at a good local hour, not on a public holiday.",
        )
    ]
