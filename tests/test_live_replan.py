"""A full re-plan looks only at live orders: history (every date far past Amazon's 30 days
after completion plus the longest step delay) is not re-planned on a campaign edit; live
orders, and old orders with a message still waiting, are."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import clock
from core.campaigns import replan_campaign
from core.models import Campaign, Decision, Message, Order, SellerAccount, Step
from core.planning import plan_all, plan_orders
from core.planning_bulk import replan
from core.store import store_orders
from tests.conftest import order_data

NOW = datetime(2026, 11, 20, 12, 0)


def _order(account, placed_days: float, delivered_days: float) -> Order:
    clock.freeze(NOW)
    data = order_data("US", days_ago=0, delivered_days_ago=None)
    placed = NOW.replace(tzinfo=UTC) - timedelta(days=placed_days)
    delivered = NOW.replace(tzinfo=UTC) - timedelta(days=delivered_days)
    data = data.__class__(
        **{
            **data.__dict__,
            "status": "Shipped",
            "purchased_at": placed,
            "last_updated_at": delivered,
            "shipped_at": placed + timedelta(days=1),
            "earliest_delivery": delivered,
            "latest_delivery": delivered,
            "delivery_confirmed": True,
            "events": {
                "ordered": placed,
                "shipped": placed + timedelta(days=1),
                "delivered": delivered,
            },
        }
    )
    [pk] = store_orders(account, [data], "t").changed_ids
    return Order.get_by_id(pk)


def _step(delay_days=5) -> Step:
    campaign = Campaign.create(name="Thanks", status="active")
    return Step.create(
        campaign=campaign,
        position=1,
        trigger="delivered",
        delay_days=delay_days,
        sender="dry_run",
        window_start_hour=0,
        window_end_hour=24,
    )


@pytest.fixture(params=["bulk", "python"])
def full_replan(request):
    return {"bulk": replan, "python": plan_all}[request.param]


def test_history_is_not_replanned_and_live_orders_are(engine, full_replan):
    account = SellerAccount.create(name="S", source="demo")
    old = _order(account, placed_days=400, delivered_days=395)
    # Delivered 40 days ago: past 30 days + the 5-day delay, so it can never be sent.
    past = _order(account, placed_days=100, delivered_days=40)
    recent = _order(account, placed_days=6, delivered_days=3)
    # Delivered 33 days ago: inside 30 days + the delay, so it is still looked at.
    edge = _order(account, placed_days=36, delivered_days=33)
    step = _step()
    full_replan(engine)
    planned = {m.order_id for m in Message.select()}
    decided = {d.order_id for d in Decision.select()}
    assert planned == {recent.id}
    assert decided == {recent.id, edge.id}
    assert old.id not in decided and past.id not in decided
    assert "more than 30 days after order completion" in (
        Decision.get(Decision.order == edge.id).reason
    )
    # A longer delay makes the 40-day-old delivery live again: it is planned (excluded).
    Step.update(delay_days=15).where(Step.id == step.id).execute()
    full_replan(engine)
    assert {d.order_id for d in Decision.select()} == {recent.id, edge.id, past.id}
    assert old.id not in {d.order_id for d in Decision.select()}


def test_an_old_order_with_a_waiting_message_is_still_replanned(engine, full_replan):
    account = SellerAccount.create(name="S", source="demo")
    old = _order(account, placed_days=400, delivered_days=395)
    step = _step()
    # Planned back when it was recent (a sync plans every order it changed).
    clock.freeze(NOW - timedelta(days=393))
    plan_orders(engine, [old.id])
    assert Message.get().state == "scheduled"
    clock.freeze(NOW)
    full_replan(engine)
    message = Message.get()
    assert message.state == "cancelled"
    assert "more than 30 days after order completion" in message.reason
    assert Decision.get(Decision.step == step.id).outcome == "excluded"


def test_a_campaign_edit_counts_live_orders_for_the_inline_limit(make_engine):
    engine = make_engine(planning={"inline_replan_max_orders": 2})
    account = SellerAccount.create(name="S", source="demo")
    for _ in range(4):
        _order(account, placed_days=500, delivered_days=495)
    recent = _order(account, placed_days=6, delivered_days=3)
    step = _step()
    # Five orders, two allowed inline: only one is live, so the edit re-plans at once.
    assert replan_campaign(engine, step.campaign) is not None
    assert Message.get().order_id == recent.id
