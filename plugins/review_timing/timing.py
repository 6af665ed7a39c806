"""When to ask for a review: pure functions, no database, no engine.

Everything here takes plain values (datetimes in naive UTC, marketplace codes, settings)
so each rule can be tested on its own and explained in one sentence of the order trace.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from core import REVIEW_CLOSES_AFTER, REVIEW_OPENS_AFTER

# Request a Review: "from 5 days after the order's earliest delivery date to 30 days after
# its latest delivery date" (Solicitations API, productReviewAndSellerFeedback;
# docs/amazon-rules.md §2.1). Amazon refuses the call outside this window; core states it once.
OPENS_AFTER = REVIEW_OPENS_AFTER
CLOSES_AFTER = REVIEW_CLOSES_AFTER

# Days after the window opens before asking, per marketplace: the buyer should have used
# the product for a few days. Long-distance marketplaces (AU, BR, MX, IN) and JP (remote
# islands, carriers' re-delivery culture) get more, because "delivered" there often means
# "reached the depot". Any marketplace not listed uses DEFAULT_OFFSET.
BASE_OFFSET_DAYS = {
    "US": 1,
    "CA": 2,
    "UK": 1,
    "DE": 1,
    "FR": 1,
    "IT": 2,
    "ES": 2,
    "NL": 1,
    "BE": 1,
    "IE": 2,
    "SE": 2,
    "PL": 2,
    "JP": 3,
    "AU": 4,
    "MX": 3,
    "BR": 4,
    "IN": 3,
    "TR": 2,
    "AE": 2,
    "SA": 2,
    "SG": 2,
}
DEFAULT_OFFSET = 2
# FBA orders carry no delivery date; the window is built on an estimate (ship date plus
# transit, docs/amazon-rules.md §4), so wait longer before asking.
ESTIMATE_EXTRA_DAYS = 2
# Orders shipped to another country than the marketplace's take longer to arrive.
CROSS_BORDER_EXTRA_DAYS = 4

# The usual return period a buyer has after delivery (Amazon's standard return policy per
# marketplace; some categories differ, which is why it is a setting).
RETURN_PERIOD_DAYS = {"BR": 7, "IN": 7, "AE": 15, "SA": 15, "TR": 15}
DEFAULT_RETURN_PERIOD = 30
# "Mostly passed": ask once this share of the return period is over.
RETURN_SHARE = 0.8
# Keep this much room before the window closes so weekends and holidays still fit.
CLOSING_MARGIN = timedelta(days=3)

# Weekend days (Monday = 0). Saudi Arabia rests on Friday and Saturday.
WEEKEND = {"SA": frozenset({4, 5})}
DEFAULT_WEEKEND = frozenset({5, 6})
MAX_DAYS_SEARCHED = 21

# The holidays library names the United Kingdom "GB"; Amazon's marketplace code is "UK".
COUNTRY_ALIASES = {"UK": "GB", "EL": "GR"}


def country_code(value: str) -> str:
    """An ISO 3166 alpha-2 code for a ship-to country as orders report it."""
    code = (value or "").strip().upper()
    return COUNTRY_ALIASES.get(code, code)


def amazon_window(earliest: datetime, latest: datetime) -> tuple[datetime, datetime]:
    """(opens, closes) of Amazon's Request a Review window for a delivery window."""
    return earliest + OPENS_AFTER, latest + CLOSES_AFTER


def default_offset(
    marketplace: str, *, estimated: bool, cross_border: bool, base: int | None = None
) -> tuple[int, str]:
    """(days after the window opens, why) for an order of ``marketplace``.

    ``base`` is the seller's setting for the marketplace; ``None`` uses the table above.
    Estimated (FBA) and cross-border deliveries add days on top of either.
    """
    if base is None:
        base = BASE_OFFSET_DAYS.get(marketplace, DEFAULT_OFFSET)
        parts = [f"{marketplace} default {base}"]
    else:
        parts = [f"{marketplace} setting {base}"]
    days = base
    if estimated:
        days += ESTIMATE_EXTRA_DAYS
        parts.append(f"+{ESTIMATE_EXTRA_DAYS} as the delivery date is an estimate")
    if cross_border:
        days += CROSS_BORDER_EXTRA_DAYS
        parts.append(f"+{CROSS_BORDER_EXTRA_DAYS} for a cross-border delivery")
    return days, ", ".join(parts)


def return_period(marketplace: str, setting: int | None = None) -> int:
    """The return period in days: the seller's setting, else the marketplace's usual one."""
    if setting is not None:
        return setting
    return RETURN_PERIOD_DAYS.get(marketplace, DEFAULT_RETURN_PERIOD)


def after_returns(delivered: datetime, period_days: int) -> datetime:
    """When most of the return period (``RETURN_SHARE``) has passed after ``delivered``."""
    return delivered + timedelta(days=math.ceil(period_days * RETURN_SHARE))


@lru_cache(maxsize=64)
def _holidays(country: str):
    try:
        return holidays_lib.country_holidays(country, language="en_US")
    except NotImplementedError:
        return None


def holiday_name(country: str, day: date) -> str | None:
    """The public holiday on ``day`` in ``country`` (English name), or None."""
    table = _holidays(country) if country else None
    if table is None:
        return None
    return table.get(day)


@dataclass
class LocalSlot:
    """The chosen send time and what was skipped to reach it."""

    due: datetime  # naive UTC
    local: datetime  # aware, in the marketplace's time zone
    skipped: list[str] = field(default_factory=list)


def good_local_time(
    due: datetime,
    *,
    timezone: str,
    hour: int,
    weekdays: frozenset[int],
    country: str,
    skip_holidays: bool = True,
) -> LocalSlot:
    """The first moment at or after ``due`` (naive UTC) in ``hour``:00-``hour``:59 local
    time, on one of ``weekdays`` and not a public holiday of ``country``.

    Buyers read a message that arrives mid-morning on a working day; one that arrives at
    3 a.m. or on Christmas Day sinks under everything else.
    """
    tz = ZoneInfo(timezone)
    local = due.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    skipped: list[str] = []
    for _ in range(MAX_DAYS_SEARCHED):
        name = holiday_name(country, local.date()) if skip_holidays else None
        ok_day = local.weekday() in weekdays and name is None
        if ok_day and local.hour == hour:
            break
        if ok_day and local.hour < hour:
            local = local.replace(hour=hour, minute=0, second=0, microsecond=0)
            break
        if name is not None and local.weekday() in weekdays:
            skipped.append(f"{local.date():%Y-%m-%d} is {name} in {country}")
        # zoneinfo arithmetic is wall-clock: 10:00 stays 10:00 across a DST change.
        local = (local + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)
    utc = local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)
    return LocalSlot(utc, local, skipped)


def weekdays_for(marketplace: str, allowed: str = "0123456") -> frozenset[int]:
    """Working days in ``marketplace`` that the step also allows (Monday = 0).

    When the step allows only weekend days, its choice wins.
    """
    step_days = frozenset(int(c) for c in allowed if c.isdigit()) or frozenset(range(7))
    working = frozenset(range(7)) - WEEKEND.get(marketplace, DEFAULT_WEEKEND)
    return (working & step_days) or step_days
