"""Amazon's time bounds always exist, delivery date or not.

"Sent within 30 days of order completion" (Amazon's communication guidelines) needs an
order completion. It is the first of: the delivery date, the latest promised delivery
date, the ship date plus the marketplace's transit, the order date plus the
marketplace's longest transit; the reason names which one applied. Request a Review
("from 5 days after the earliest delivery to 30 days after the latest") gets an estimated
window from the same chain for an order without a delivery date, so it is asked, and it
ends, instead of waiting for a date that never comes. The set-based re-plan reaches the
same decisions with the same reasons on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import OrderData, Sender, SendResult, clock, hookimpl
from core.contracts import ItemData
from core.decide import EXCLUDED, SEND, SEND_TIME, WAIT, decide
from core.dispatch import dispatch_due
from core.models import Campaign, Decision, Message, Order, SellerAccount, Step
from core.planning import plan_all, plan_orders
from core.planning_bulk import replan
from core.store import store_orders
from tests.support.planning import assert_same_plans

ORDERED = datetime(2026, 9, 25, 10, 0)
SHIPPED = datetime(2026, 9, 27, 9, 0)
SHIPPED_ON = dict(shipped=SHIPPED, shipped_at=SHIPPED)  # a shipped event and a ship date


class Recorder:
    """Two live channels that record what they were asked to send: free text and a
    review request (its text written by the channel, like Amazon's button)."""

    def __init__(self):
        self.sent: list[tuple[str, str]] = []

    def _send(self, engine, message, order, rendered):
        self.sent.append((order.order_id, message.sender))
        return SendResult("sent", "recorded")

    @hookimpl
    def register_senders(self, engine):
        return [
            Sender("recorder", "Recorder", self._send, needs_body=False),
            Sender(
                "recorder_review",
                "Recorder review",
                self._send,
                review_request=True,
                needs_body=False,
            ),
        ]


@pytest.fixture
def bounds(make_engine):
    recorder = Recorder()
    engine = make_engine(extra_plugins=[("recorder", recorder)])
    account = SellerAccount.create(name="S", source="demo", marketplaces=["DE", "US"])
    return engine, account, recorder


_ids = iter(range(1000000, 9999999))


def order(
    marketplace: str = "DE",
    *,
    ordered: datetime = ORDERED,
    shipped: datetime | None = None,
    shipped_at: datetime | None = None,
    delivered: datetime | None = None,
    earliest: datetime | None = None,
    latest: datetime | None = None,
    confirmed: bool = False,
    fulfillment: str = "FBM",
) -> OrderData:
    """An order with exactly the dates given (naive UTC), nothing invented."""
    n = next(_ids)
    events = {"ordered": ordered}
    if shipped:
        events["shipped"] = shipped
    if delivered:
        events["delivered"] = delivered

    def aware(value):
        return value.replace(tzinfo=UTC) if value else None

    return OrderData(
        order_id=f"302-{n}-{n}",
        marketplace=marketplace,
        fulfillment=fulfillment,
        status="Shipped" if shipped else "Unshipped",
        purchased_at=aware(ordered),
        last_updated_at=aware(max(events.values())),
        items=(ItemData("SKU-1", "B0TEST0001", "Lamp", 1, 20.0),),
        total=20.0,
        currency="EUR",
        buyer_key=f"buyer-{n}",
        ship_country=marketplace,
        shipped_at=aware(shipped_at),
        earliest_delivery=aware(earliest),
        latest_delivery=aware(latest),
        delivery_confirmed=confirmed,
        events={k: aware(v) for k, v in events.items()},
    )


def stored(account, data: OrderData) -> Order:
    result = store_orders(account, [data], "test")
    assert not result.errors, result.errors
    return Order.get(Order.order_id == data.order_id)


def step(trigger: str = "ordered", sender: str = "recorder", **values) -> Step:
    campaign = Campaign.create(name=f"{trigger} {sender}", status="active")
    fields = dict(
        campaign=campaign,
        trigger=trigger,
        sender=sender,
        window_start_hour=0,
        window_end_hour=24,
    )
    fields.update(values)
    return Step.create(**fields)


def verdict_at(engine, when: datetime, data_order: Order, the_step: Step, mode=SEND_TIME):
    clock.freeze(when)
    return decide(engine, Order.get_by_id(data_order.id), the_step, mode=mode)


# -- the 30-day bound -------------------------------------------------------------------


def test_a_shipped_order_without_a_delivery_date_gets_no_day_35_message(bounds):
    """The reported case: shipped, never a delivery date, a message 35 days after
    shipping went out. Completion is the ship date plus DE's transit (2 days)."""
    engine, account, recorder = bounds
    data = order(shipped=SHIPPED, shipped_at=SHIPPED)
    clock.freeze(SHIPPED + timedelta(hours=1))
    stored(account, data)
    late = step("shipped", delay_days=35)
    plan_orders(engine, [o.id for o in Order.select()])
    assert Message.get().due_at == SHIPPED + timedelta(days=35)

    clock.freeze(SHIPPED + timedelta(days=35, minutes=5))
    dispatch_due(engine)
    message = Message.get()
    reason = (
        "excluded: more than 30 days after order completion "
        "(2026-09-29, estimated: shipped 2026-09-27 + 2 days transit to DE)"
    )
    assert (message.state, message.reason) == ("skipped", reason)
    assert recorder.sent == []
    # Planning says the same, for good: not "waiting" (planned afresh, as after an edit).
    Message.delete().execute()
    plan_orders(engine, [o.id for o in Order.select()])
    decision = Decision.get(Decision.step == late)
    assert (decision.outcome, decision.reason) == ("excluded", reason)


@pytest.mark.parametrize(
    "case, bound, reason",
    [
        (
            dict(
                SHIPPED_ON,
                delivered=datetime(2026, 10, 1, 12),
                earliest=datetime(2026, 10, 2),
                latest=datetime(2026, 10, 6),
            ),
            datetime(2026, 10, 31, 12),
            "(2026-10-01, delivered)",
        ),
        (
            dict(
                SHIPPED_ON,
                earliest=datetime(2026, 10, 1, 8),
                latest=datetime(2026, 10, 1, 8),
                confirmed=True,
            ),
            datetime(2026, 10, 31, 8),
            "(2026-10-01, confirmed delivery)",
        ),
        (
            dict(
                SHIPPED_ON,
                earliest=datetime(2026, 9, 30, 7),
                latest=datetime(2026, 10, 3, 7),
            ),
            datetime(2026, 11, 2, 7),
            "(2026-10-03, latest promised delivery)",
        ),
        (
            dict(
                SHIPPED_ON,
                earliest=datetime(2026, 9, 28, 9),
                latest=datetime(2026, 9, 29, 9),
                fulfillment="FBA",
            ),
            datetime(2026, 10, 29, 9),
            "(2026-09-29, latest estimated delivery)",
        ),
        (
            dict(shipped=SHIPPED),  # a shipped event, no ship date column
            datetime(2026, 10, 29, 9),
            "(2026-09-29, estimated: shipped 2026-09-27 + 2 days transit to DE)",
        ),
        (
            dict(),  # never shipped: the order date plus DE's longest transit
            datetime(2026, 11, 4, 10),
            "(2026-10-05, estimated: ordered 2026-09-25 + 10 days longest transit to DE)",
        ),
    ],
    ids=["delivered-event", "confirmed", "promised", "fba-estimate", "shipped", "ordered"],
)
def test_the_bound_is_the_first_of_delivery_promise_ship_and_order_date(
    bounds, case, bound, reason
):
    engine, account, _ = bounds
    placed = stored(account, order(**case))
    any_message = step("ordered")
    before = verdict_at(engine, bound - timedelta(minutes=1), placed, any_message)
    assert before.outcome == SEND, before.reason
    after = verdict_at(engine, bound + timedelta(minutes=1), placed, any_message)
    assert after.outcome == EXCLUDED
    assert after.reason == f"excluded: more than 30 days after order completion {reason}"


def test_the_transit_is_the_marketplaces(bounds):
    engine, account, _ = bounds
    placed = stored(account, order("US", shipped=SHIPPED))
    verdict = verdict_at(engine, datetime(2026, 11, 1), placed, step("ordered"))
    assert verdict.reason == (
        "excluded: more than 30 days after order completion "
        "(2026-09-30, estimated: shipped 2026-09-27 + 3 days transit to US)"
    )


# -- Request a Review without a delivery date ---------------------------------------------


def test_a_review_request_without_a_delivery_date_gets_an_estimated_window(bounds):
    """Shipped, no delivery date: 5 days after the estimated delivery to 30 days after
    it, never "window unknown" for good."""
    engine, account, _ = bounds
    placed = stored(account, order(shipped=SHIPPED, fulfillment="FBA"))
    review = step("shipped", sender="recorder_review")
    early = verdict_at(engine, datetime(2026, 9, 30), placed, review)
    assert (early.outcome, early.reason) == (
        WAIT,
        "waiting: review-request window opens 2026-10-04 09:00 UTC "
        "(estimated: shipped 2026-09-27 + 2 days transit to DE)",
    )
    assert verdict_at(engine, datetime(2026, 10, 10), placed, review).outcome == SEND
    late = verdict_at(engine, datetime(2026, 10, 29, 10), placed, review)
    assert late.outcome == EXCLUDED
    assert "2026-09-29, estimated: shipped 2026-09-27" in late.reason


def test_an_order_that_never_ships_ends_with_a_clear_reason(bounds):
    """No ship date, no estimate possible: the review request waits for the shipment,
    and still ends 30 days after the order date plus the longest transit."""
    engine, account, recorder = bounds
    placed = stored(account, order())
    review = step("ordered", sender="recorder_review")
    waiting = verdict_at(engine, datetime(2026, 10, 1), placed, review)
    assert waiting.outcome == WAIT
    assert waiting.reason.startswith("waiting: not shipped yet")
    final = verdict_at(engine, datetime(2026, 11, 4, 11), placed, review)
    assert (final.outcome, final.reason) == (
        EXCLUDED,
        "excluded: more than 30 days after order completion "
        "(2026-10-05, estimated: ordered 2026-09-25 + 10 days longest transit to DE)",
    )
    # Through the dispatcher: waits daily, then ends; nothing is sent.
    clock.freeze(datetime(2026, 9, 26))
    plan_orders(engine, [placed.id])
    for day in (datetime(2026, 10, 1), datetime(2026, 10, 20), datetime(2026, 11, 5)):
        clock.freeze(day)
        Message.update(due_at=day).execute()
        dispatch_due(engine)
    message = Message.get()
    assert message.state == "skipped" and "longest transit to DE" in message.reason
    assert recorder.sent == []


# -- the set-based re-plan agrees ----------------------------------------------------------


def _bulk_orders() -> list[OrderData]:
    """Every step of the chain in four marketplaces, at ages on both sides of each
    bound, with microseconds (SQL keeps them as Python does)."""
    out = []
    now = datetime(2026, 11, 20, 15, 37, 12, 345678)
    for market in ("DE", "US", "JP", "AU"):
        for age in (5, 20, 33, 36, 41, 45, 60):
            placed = now - timedelta(days=age, hours=age, microseconds=age * 1111)
            ship = placed + timedelta(days=1, hours=3, microseconds=7)
            delivered = ship + timedelta(days=2, hours=5)
            sent = dict(shipped=ship, shipped_at=ship)  # a shipped event and a ship date
            day = timedelta(days=1)
            dated = [
                {},
                dict(shipped=ship),
                sent,
                dict(shipped=ship, delivered=delivered),
                dict(
                    sent, delivered=delivered + 3 * day, earliest=ship + day, latest=ship + 2 * day
                ),
                dict(
                    sent, delivered=delivered, earliest=delivered, latest=delivered, confirmed=True
                ),
                dict(sent, earliest=ship + day, latest=ship + 4 * day),
                dict(sent, earliest=delivered, latest=delivered, confirmed=True),
                dict(shipped=ship, earliest=ship + day, latest=placed + 10 * day),
                dict(sent, earliest=ship + 2 * day, latest=ship + 3 * day, fulfillment="FBA"),
            ]
            out += [order(market, ordered=placed, **dates) for dates in dated]
    return out


def _snapshot():
    messages = {
        (m.order_id, m.step_id): (m.due_at, m.state, m.reason, m.sender) for m in Message.select()
    }
    decisions = {
        (d.order_id, d.step_id): (d.outcome, d.reason, d.decided_by) for d in Decision.select()
    }
    return messages, decisions


def _bulk_equals_python(engine):
    clock.freeze(datetime(2026, 11, 20, 15, 37, 12, 345678))
    account = SellerAccount.create(name="S", source="demo", marketplaces=["DE", "US", "JP", "AU"])
    assert not store_orders(account, _bulk_orders(), "test").errors
    step("ordered", sender="dry_run")
    step("shipped", sender="dry_run", delay_days=2)
    step("delivered", sender="dry_run", message_type="review_request")
    step("delivered", sender="amazon_review", anchor="review_window", delay_days=3)
    python = plan_all(engine)
    expected = _snapshot()
    Message.delete().execute()
    Decision.delete().execute()
    bulk = replan(engine)
    got = _snapshot()
    assert_same_plans(expected, got)
    assert bulk == python
    return expected[1]


def _every_kind_of_bound(decisions) -> None:
    reasons = {d[1] for d in decisions.values()}
    for wanted in (
        ", delivered)",
        ", confirmed delivery)",
        ", latest promised delivery)",
        ", latest estimated delivery)",
        "+ 2 days transit to DE)",
        "+ 3 days transit to US)",
        "days longest transit to JP)",
        "excluded: review-request window closed",
    ):
        assert any(wanted in r for r in reasons), f"no decision says {wanted!r}"


def test_bulk_replan_applies_the_same_bounds_sqlite(bounds):
    engine, _, _ = bounds
    _every_kind_of_bound(_bulk_equals_python(engine))


def test_bulk_replan_applies_the_same_bounds_postgresql(make_engine, pg_url):
    engine = make_engine(extra_plugins=[("recorder", Recorder())], database={"url": pg_url})
    _every_kind_of_bound(_bulk_equals_python(engine))
