"""review_timing: Amazon's review window, per-marketplace offsets, return periods, local
hours and public holidays, through the real engine, planning and order trace."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from core import DeliveryWindow, TimeWindow, clock, hookimpl
from core.campaigns import create_from_preset, set_status
from core.models import Decision, Message, Order, SellerAccount, Step
from core.planning import plan_orders
from core.plugin_settings import set_plugin_enabled
from core.store import store_orders
from plugins.review_timing import asks_for_review, settings_for
from plugins.review_timing.timing import (
    after_returns,
    amazon_window,
    country_code,
    default_offset,
    good_local_time,
    holiday_name,
    return_period,
    weekdays_for,
)
from tests.conftest import order_data

PLUGINS = ["amazon", "demo", "email", "sequences", "review_timing"]
NOW = datetime(2026, 12, 18, 8, 0)  # the day after the engine tests' deliveries
WORKDAYS = frozenset(range(5))


@pytest.fixture
def timing_engine(make_engine):
    clock.freeze(NOW)
    return make_engine(plugins={"enabled": PLUGINS})


@pytest.fixture
def engine(timing_engine):
    """conftest's ``account`` (a seller in US, DE and JP) is created in this engine."""
    return timing_engine


def delivered(marketplace: str, when: datetime, *, fulfillment="FBM", **fields):
    """An order placed 5 days before ``when`` (naive UTC) and delivered at ``when``."""
    aware = when.replace(tzinfo=UTC)
    placed, shipped = aware - timedelta(days=5), aware - timedelta(days=3)
    data = order_data(marketplace, fulfillment=fulfillment, delivered_days_ago=None)
    values = dict(
        purchased_at=placed,
        last_updated_at=aware,
        status="Shipped",
        shipped_at=shipped,
        earliest_delivery=aware,
        latest_delivery=aware,
        delivery_confirmed=True,
        events={"ordered": placed, "shipped": shipped, "delivered": aware},
    )
    values.update(fields)
    return replace(data, **values)


def review_step(**fields) -> Step:
    values = dict(
        sender="amazon_review",
        message_type="review_request",
        window_start_hour=9,
        window_end_hour=18,
        weekdays="0123456",
    )
    values.update(fields)
    return Step(**values)


def store(account, *datas) -> list[int]:
    return store_orders(account, list(datas), "test").changed_ids


def review_campaigns(engine, *markets, fulfillment="FBM"):
    """The one-step "Request a Review only" preset of each marketplace, in test mode."""
    for code in markets:
        preset = next(p for p in engine.presets(code, fulfillment) if "-review-" in p.name)
        set_status(engine, create_from_preset(engine, preset), "test")


def decision_of(order_id: str) -> Decision:
    """The decision that planned the order's review (other presets exclude it)."""
    return (
        Decision.select()
        .join(Order)
        .where((Order.order_id == order_id) & (Decision.outcome == "planned"))
        .get()
    )


def due_of(order_id: str) -> datetime:
    return Message.select().join(Order).where(Order.order_id == order_id).get().due_at


# -- the pure timing rules -----------------------------------------------------------


def test_amazon_window_is_5_days_after_earliest_to_30_after_latest():
    earliest, latest = datetime(2026, 3, 2, 12), datetime(2026, 3, 4, 18)
    assert amazon_window(earliest, latest) == (datetime(2026, 3, 7, 12), datetime(2026, 4, 3, 18))


def test_offsets_grow_for_estimates_far_marketplaces_and_cross_border():
    assert default_offset("US", estimated=False, cross_border=False)[0] == 1
    assert default_offset("JP", estimated=False, cross_border=False)[0] == 3
    assert default_offset("AU", estimated=False, cross_border=False)[0] == 4
    days, why = default_offset("DE", estimated=True, cross_border=True)
    assert days == 1 + 2 + 4
    assert "estimate" in why and "cross-border" in why
    assert default_offset("DE", estimated=False, cross_border=False, base=6) == (
        6,
        "DE setting 6",
    )


def test_return_periods_and_when_they_have_mostly_passed():
    assert return_period("DE") == 30 and return_period("US") == 30 and return_period("IN") == 7
    assert return_period("DE", 14) == 14
    assert after_returns(datetime(2026, 5, 1, 9), 30) == datetime(2026, 5, 25, 9)


def test_good_local_time_skips_christmas_and_the_weekend_in_germany():
    # Thursday 24 December 2026, 13:00 in Berlin: too late for 10:00 that day; Friday is
    # Christmas Day, Saturday a holiday and weekend, Sunday weekend.
    slot = good_local_time(
        datetime(2026, 12, 24, 12, 0),
        timezone="Europe/Berlin",
        hour=10,
        weekdays=WORKDAYS,
        country="DE",
    )
    assert slot.due == datetime(2026, 12, 28, 9, 0)  # Monday 10:00 CET
    assert slot.skipped == ["2026-12-25 is Christmas Day in DE"]


def test_good_local_time_uses_the_buyers_time_zone_and_keeps_a_good_hour():
    # 10:00 in Tokyo is 01:00 UTC; a time inside the hour is kept as it is.
    slot = good_local_time(
        datetime(2026, 12, 2, 0, 0), timezone="Asia/Tokyo", hour=10, weekdays=WORKDAYS, country="JP"
    )
    assert slot.due == datetime(2026, 12, 2, 1, 0)
    inside = datetime(2026, 12, 2, 1, 30)
    kept = good_local_time(inside, timezone="Asia/Tokyo", hour=10, weekdays=WORKDAYS, country="JP")
    assert kept.due == inside and kept.skipped == []


def test_good_local_time_keeps_the_wall_clock_hour_across_daylight_saving():
    # New York leaves daylight saving on Sunday 1 November 2026: 10:00 EST is 15:00 UTC.
    slot = good_local_time(
        datetime(2026, 10, 30, 16, 0),  # Friday 12:00 EDT, past the hour
        timezone="America/New_York",
        hour=10,
        weekdays=WORKDAYS,
        country="US",
    )
    assert slot.due == datetime(2026, 11, 2, 15, 0)


def test_uk_holidays_use_the_iso_country_code():
    assert country_code("uk") == "GB"
    assert holiday_name("GB", date(2026, 12, 28)) == "Boxing Day (observed)"
    assert holiday_name("", date(2026, 12, 25)) is None


def test_weekend_differs_in_saudi_arabia_and_the_steps_days_win():
    assert weekdays_for("SA") == frozenset({0, 1, 2, 3, 6})
    assert weekdays_for("DE") == WORKDAYS
    assert weekdays_for("DE", "56") == frozenset({5, 6})  # a weekend-only step stays one
    assert weekdays_for("DE", "0246") == frozenset({0, 2, 4})


# -- the hook functions --------------------------------------------------------------


def test_review_request_window_follows_amazons_rule_and_names_the_plugin(timing_engine, account):
    store(account, delivered("DE", datetime(2026, 12, 1, 14), earliest_delivery=None))
    order = Order.get()
    order.earliest_delivery = datetime(2026, 11, 30, 9)
    order.save()
    window = timing_engine.review_window(order)
    assert window == TimeWindow(
        datetime(2026, 12, 5, 9), datetime(2026, 12, 31, 14), "review_timing"
    )


def test_review_request_window_waits_while_no_delivery_date_is_known(timing_engine, account):
    store(account, order_data("US", delivered_days_ago=None))
    from plugins.review_timing import review_request_window

    assert review_request_window(timing_engine, Order.get()) is None
    assert timing_engine.review_window(Order.get()) is None


def test_adjust_send_time_leaves_other_messages_alone(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    store(account, delivered("DE", datetime(2026, 12, 10, 9)))
    step = review_step(sender="amazon_messaging", message_type="createConfirmDeliveryDetails")
    assert not asks_for_review(timing_engine, step)
    assert adjust_send_time(timing_engine, Order.get(), step, datetime(2026, 12, 20, 3)) is None
    assert asks_for_review(timing_engine, review_step(sender="email"))


def test_adjust_send_time_picks_a_local_morning_after_the_offset(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    store(account, delivered("JP", datetime(2026, 12, 10, 3)))  # window opens 12-15 03:00
    clock.freeze(datetime(2026, 12, 11))
    due, why = adjust_send_time(
        timing_engine, Order.get(), review_step(), datetime(2026, 12, 15, 3)
    )
    # JP waits 3 days: Friday 18 December 12:00 JST is past 10:00 -> Monday 21, 10:00 JST.
    assert due == datetime(2026, 12, 21, 1, 0)
    assert "review window from review_timing: opens 2026-12-15 03:00, closes 2027-01-09" in why
    assert "waits at least 3 days after it opens (JP default 3)" in why
    assert "send time moved by review_timing to 2026-12-21 10:00 local" in why


def test_avoid_returns_waits_for_the_return_period_when_it_fits(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    timing_engine.set_plugin_setting("review_timing", "avoid_returns", True, "DE")
    store(account, delivered("DE", datetime(2026, 12, 1, 9)))
    clock.freeze(datetime(2026, 12, 2))
    due, why = adjust_send_time(timing_engine, Order.get(), review_step(), datetime(2026, 12, 7, 9))
    # 80 % of DE's 30-day return period: 25 December 09:00 UTC -> Christmas -> Monday 28.
    assert "waits until 2026-12-25, when most of the 30-day return period has passed" in why
    assert "2026-12-25 is Christmas Day in DE" in why
    assert due == datetime(2026, 12, 28, 9, 0)


def test_avoid_returns_says_so_when_the_period_outlasts_the_window(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    timing_engine.set_plugin_setting("review_timing", "avoid_returns", True, "DE")
    timing_engine.set_plugin_setting("review_timing", "return_period_days", 40, "DE")
    store(account, delivered("DE", datetime(2026, 12, 1, 9)))
    clock.freeze(datetime(2026, 12, 2))
    due, why = adjust_send_time(timing_engine, Order.get(), review_step(), datetime(2026, 12, 7, 9))
    assert "does not wait for the 40-day return period" in why
    assert due == datetime(2026, 12, 7, 9, 0)  # asked early in the window instead


def test_avoid_returns_is_off_unless_the_seller_turns_it_on(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    assert settings_for(timing_engine, "DE").avoid_returns is False
    store(account, delivered("DE", datetime(2026, 12, 1, 9)))
    clock.freeze(datetime(2026, 12, 2))
    due, why = adjust_send_time(timing_engine, Order.get(), review_step(), datetime(2026, 12, 7, 9))
    assert "return period" not in why and due == datetime(2026, 12, 7, 9, 0)


def test_a_send_never_moves_past_the_window_end(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    store(account, delivered("DE", datetime(2026, 11, 24, 9)))  # closes Thu 24 Dec 09:00
    clock.freeze(datetime(2026, 12, 20))
    late = datetime(2026, 12, 23, 16)  # 17:00 Berlin: the next 10:00 slot is after closing
    due, why = adjust_send_time(timing_engine, Order.get(), review_step(), late)
    assert due == late
    assert "no 10:00-11:00 Europe/Berlin on a working day before the review window closes" in why


def test_settings_are_per_marketplace(timing_engine, account):
    page = timing_engine.settings_pages["review_timing"]
    keys = {f.key for f in page.fields}
    assert {"offset_days", "local_hour", "avoid_returns", "return_period_days"} <= keys
    timing_engine.set_plugin_setting("review_timing", "local_hour", "14", "DE")
    timing_engine.set_plugin_setting("review_timing", "offset_days", 5, "DE")
    assert settings_for(timing_engine, "DE").local_hour == 14
    assert settings_for(timing_engine, "DE").offset_days == 5
    assert settings_for(timing_engine, "US").local_hour == 10
    assert settings_for(timing_engine, "US").offset_days is None


def test_a_due_time_in_the_past_moves_to_the_next_good_hour_from_now(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    store(account, delivered("US", datetime(2026, 12, 1, 9)))
    clock.freeze(datetime(2026, 12, 16, 3))  # Tuesday 22:00 in New York
    due, why = adjust_send_time(
        timing_engine, Order.get(), review_step(), datetime(2026, 12, 7, 15)
    )
    assert due == datetime(2026, 12, 16, 15, 0)  # Wednesday 10:00 EST, not at night
    assert "2026-12-16 10:00 local" in why


def test_the_seller_hour_must_fit_the_steps_window(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    timing_engine.set_plugin_setting("review_timing", "local_hour", 7, "DE")
    store(account, delivered("DE", datetime(2026, 12, 1, 9)))
    clock.freeze(datetime(2026, 12, 2))
    step = review_step(window_start_hour=9)
    due, _ = adjust_send_time(timing_engine, Order.get(), step, datetime(2026, 12, 7, 9))
    assert due == datetime(2026, 12, 8, 8, 0)  # 09:00 Berlin, the step's start


class Rival:
    """A plugin registered after review_timing, so without tryfirst it would answer first."""

    @hookimpl
    def review_request_window(self, engine, order):
        return TimeWindow(order.purchased_at, order.purchased_at + timedelta(days=90), "rival")

    @hookimpl
    def adjust_send_time(self, engine, order, step, due_at):
        return due_at + timedelta(days=30), "rival: a month later"

    @hookimpl
    def delivery_window(self, engine, order):
        return None


def test_tryfirst_makes_review_timing_win_over_later_plugins_and_the_default(make_engine):
    clock.freeze(NOW)
    engine = make_engine(extra_plugins=[("rival", Rival())], plugins={"enabled": PLUGINS})
    account = SellerAccount.create(name="S", source="demo")
    store(account, delivered("DE", datetime(2026, 12, 10, 9)))
    clock.freeze(datetime(2026, 12, 11))
    order = Order.get()
    assert engine.review_window(order).source == "review_timing"
    moved = engine.adjust_send_time(order, review_step(), datetime(2026, 12, 16, 9))
    assert moved[0] == datetime(2026, 12, 16, 9) and "review_timing" in moved[1]
    # The same rival wins when review_timing is not loaded: the order is what tryfirst buys.
    without = make_engine(extra_plugins=[("rival", Rival())])
    assert without.review_window(order).source == "rival"
    assert without.adjust_send_time(order, review_step(), NOW)[1] == "rival: a month later"


# -- engine level: planning and the order trace ----------------------------------------


def test_due_times_and_trace_for_us_de_jp_uk_orders(timing_engine, account):
    when = datetime(2026, 12, 17, 12)  # delivered; Amazon's window opens 22 December 12:00
    orders = {m: delivered(m, when) for m in ("US", "DE", "JP", "UK")}
    review_campaigns(timing_engine, "US", "DE", "JP", "UK")
    plan_orders(timing_engine, store(account, *orders.values()))
    due = {m: due_of(o.order_id) for m, o in orders.items()}
    # opens + 2 days = Thursday 24 Dec 07:00 in New York -> 10:00 the same morning.
    assert due["US"] == datetime(2026, 12, 24, 15, 0)
    # 13:00 in Berlin, past 10:00; 25 and 26 December are holidays, then the weekend.
    assert due["DE"] == datetime(2026, 12, 28, 9, 0)
    # opens + 3 days = 25 Dec 21:00 JST -> the step's window: Saturday 09:00 -> Monday 10:00.
    assert due["JP"] == datetime(2026, 12, 28, 1, 0)
    # Christmas Day, a weekend, then Boxing Day observed on Monday 28 December.
    assert due["UK"] == datetime(2026, 12, 29, 10, 0)
    de = decision_of(orders["DE"].order_id)
    assert de.decided_by == "review_timing"
    assert "review window from review_timing: opens 2026-12-22 12:00, closes 2027-01-16" in (
        de.reason
    )
    assert "send time moved by review_timing" in de.reason
    assert "2026-12-25 is Christmas Day in DE" in de.reason
    uk = decision_of(orders["UK"].order_id).reason
    assert "2026-12-25 is Christmas Day in GB" in uk
    assert "2026-12-28 is Boxing Day (observed) in GB" in uk
    assert "Asia/Tokyo" in decision_of(orders["JP"].order_id).reason


def test_disabling_review_timing_for_de_changes_only_de(timing_engine, account):
    when = datetime(2026, 12, 17, 12)
    orders = {m: delivered(m, when) for m in ("US", "DE", "JP", "UK")}
    review_campaigns(timing_engine, "US", "DE", "JP", "UK")
    ids = store(account, *orders.values())
    plan_orders(timing_engine, ids)
    before = {m: due_of(o.order_id) for m, o in orders.items()}

    set_plugin_enabled(timing_engine, "review_timing", "DE", False)
    plan_orders(timing_engine, ids)
    after = {m: due_of(o.order_id) for m, o in orders.items()}
    # The core default: window opens + 2 days, inside the step's 9-18 window, holiday or not.
    assert after["DE"] == datetime(2026, 12, 24, 12, 0) != before["DE"]
    assert {m: after[m] for m in ("US", "JP", "UK")} == {m: before[m] for m in ("US", "JP", "UK")}
    de = decision_of(orders["DE"].order_id)
    assert "review_timing" not in de.reason and de.decided_by != "review_timing"
    assert decision_of(orders["US"].order_id).decided_by == "review_timing"

    set_plugin_enabled(timing_engine, "review_timing", "DE", True)
    plan_orders(timing_engine, ids)
    assert due_of(orders["DE"].order_id) == before["DE"]


def test_fba_cross_border_estimate_waits_longer_with_the_buyers_holidays(timing_engine, account):
    # An FBA order from amazon.de shipped to Austria, delivery only estimated (no event).
    shipped = datetime(2026, 12, 28, 9, tzinfo=UTC)
    estimate = datetime(2026, 12, 31, 9)
    data = delivered(
        "DE",
        estimate,
        fulfillment="FBA",
        ship_country="AT",
        delivery_confirmed=False,
        events={"ordered": shipped - timedelta(days=1), "shipped": shipped},
    )
    review_campaigns(timing_engine, "DE", fulfillment="FBA")
    plan_orders(timing_engine, store(account, data))
    reason = decision_of(data.order_id).reason
    assert (
        "waits at least 7 days after it opens (DE default 1, +2 as the delivery date is an "
        "estimate, +4 for a cross-border delivery)" in reason
    )
    # opens 5 Jan 09:00 + 7 days = 12 Jan (the preset's 3 days are shorter) -> 10:00 Vienna
    assert due_of(data.order_id) == datetime(2027, 1, 12, 9, 0)


def test_cross_border_holidays_are_the_ship_to_countrys(timing_engine, account):
    from plugins.review_timing import adjust_send_time

    # 6 January is Epiphany in Austria but a working day in most of Germany (Berlin).
    store(account, delivered("DE", datetime(2026, 12, 20, 9), ship_country="AT"))
    due, why = adjust_send_time(timing_engine, Order.get(), review_step(), datetime(2027, 1, 5, 12))
    assert "2027-01-06 is Epiphany in AT" in why
    assert due == datetime(2027, 1, 7, 9, 0)


def test_delivery_window_from_another_plugin_feeds_the_review_window(make_engine):
    class Estimates:
        @hookimpl
        def delivery_window(self, engine, order):
            start = order.purchased_at + timedelta(days=4)
            return DeliveryWindow(start, start + timedelta(days=2), False, "estimate")

    clock.freeze(NOW)
    engine = make_engine(extra_plugins=[("estimates", Estimates())], plugins={"enabled": PLUGINS})
    account = SellerAccount.create(name="S", source="demo")
    store(account, order_data("US", fulfillment="FBA", delivered_days_ago=None))
    order = Order.get()
    window = engine.review_window(order)
    assert window.opens == order.purchased_at + timedelta(days=9)
    assert window.closes == order.purchased_at + timedelta(days=36)
    _, why = engine.adjust_send_time(order, review_step(), window.opens)
    assert "+2 as the delivery date is an estimate" in why


def test_config_restriction_keeps_review_timing_away_from_de(make_engine):
    clock.freeze(NOW)
    engine = make_engine(
        plugins={"enabled": PLUGINS},
        **{"plugins.marketplaces": {"review_timing": ["US", "JP", "UK"]}},
    )
    account = SellerAccount.create(name="S", source="demo")
    when = datetime(2026, 12, 17, 12)
    orders = {m: delivered(m, when) for m in ("US", "DE")}
    review_campaigns(engine, "US", "DE")
    plan_orders(engine, store(account, *orders.values()))
    assert due_of(orders["DE"].order_id) == datetime(2026, 12, 24, 12, 0)  # core default
    assert due_of(orders["US"].order_id) == datetime(2026, 12, 24, 15, 0)
    assert decision_of(orders["US"].order_id).decided_by == "review_timing"
    assert decision_of(orders["DE"].order_id).decided_by != "review_timing"


def test_an_imported_order_is_timed_as_an_estimate(timing_engine, account, tmp_path):
    """The All Orders report has no delivery dates: the imported order's window is an
    estimate, planned like an FBA order's (more days after it opens), not "waiting"."""
    from tests.test_amazon_import_review import import_report, row

    review_campaigns(timing_engine, "DE", fulfillment="FBA")
    placed = datetime(2026, 12, 1, 10)
    oid = "302-5555555-5555555"
    import_report(timing_engine, tmp_path, account.name, row(oid, placed, datetime(2026, 12, 3)))
    decision = decision_of(oid)
    assert decision.decided_by == "review_timing"
    assert "review window from review_timing: opens 2026-12-08 10:00, closes 2027-01-10" in (
        decision.reason
    )
    assert "+2 as the delivery date is an estimate" in decision.reason
