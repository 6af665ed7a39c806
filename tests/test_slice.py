"""The vertical slice: demo source -> sync -> plan -> dispatch (dry run), through huey
in immediate mode, plus the guarantees the later engine work builds on."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from core.clock import freeze, utcnow
from core.contracts import IN_DOUBT, SCHEDULED, SENDING, SENT
from core.demo import DEMO_CAMPAIGN, load_demo
from core.dispatch import claim, dispatch_due, recover_expired_leases
from core.engine import Engine
from core.models import Attempt, Campaign, Decision, Message, Order, OrderEvent, SellerAccount, Step
from core.planning import plan_all, plan_orders
from core.store import store_orders
from tests.conftest import order_data


def demo_account():
    return SellerAccount.create(
        name="Demo seller", source="demo", is_demo=True, marketplaces=["US", "DE", "JP"]
    )


def review_campaign(status="active", **step):
    c = Campaign.create(name="Review", status=status)
    values = dict(
        campaign=c,
        position=1,
        trigger="delivered",
        delay_days=5,
        sender="dry_run",
        message_type="review_request",
        rules=[{"rule": "not_cancelled_returned_refunded", "params": {}}],
        window_start_hour=0,
        window_end_hour=24,
    )
    values.update(step)
    return Step.create(**values)


def test_slice_through_huey_immediate(runtime):
    account = demo_account()
    review_campaign()
    runtime.sync_account(account.id)  # immediate mode: runs now, plans changed orders
    assert Order.select().count() == 300
    assert {o.marketplace for o in Order.select()} == {"US", "DE", "JP"}
    assert {o.fulfillment for o in Order.select()} == {"FBA", "FBM"}
    assert OrderEvent.select().where(OrderEvent.kind.in_(["returned", "refunded"])).count() > 5
    planned = Message.select().count()
    assert planned > 50
    runtime.dispatch()
    sent = Message.select().where(Message.state == SENT)
    assert sent.count() > 0
    assert all(m.dry_run and m.sender == "dry_run" for m in sent)
    # nothing was planned for a refunded, returned or cancelled order
    unwanted = OrderEvent.select(OrderEvent.order).where(
        OrderEvent.kind.in_(["returned", "refunded", "cancelled"])
    )
    assert (
        not Message.select().where(Message.order.in_(unwanted) & (Message.state == SENT)).exists()
    )
    # every order x step has either a message or a decision with a reason
    decisions = Decision.select().count()
    assert decisions == Order.select().count()
    assert all(d.reason for d in Decision.select())
    # syncing and planning again changes nothing
    runtime.sync_account(account.id)
    runtime.plan_all()
    assert Message.select().count() == planned


def test_load_demo_is_labelled_and_idempotent(engine):
    first = load_demo(engine)
    assert first["orders"] == 300 and first["planned"] > 0
    assert SellerAccount.get().is_demo and Order.select().where(~Order.is_demo).count() == 0
    assert Campaign.get(Campaign.name == DEMO_CAMPAIGN).status == "active"
    again = load_demo(engine)
    assert again["planned"] == 0
    assert Campaign.select().count() == 1


def test_one_message_per_order_and_step(engine, account):
    ids = store_orders(account, [order_data("US", delivered_days_ago=2)], "t").changed_ids
    review_campaign()
    assert plan_orders(engine, ids).planned == 1
    assert plan_orders(engine, ids).planned == 0
    plan_all(engine)
    assert Message.select().count() == 1


def test_event_recorded_once_per_kind(engine, account):
    data = order_data("US", delivered_days_ago=2)
    first = store_orders(account, [data], "t")
    second = store_orders(account, [data], "t")
    assert first.new_events == 3 and second.new_events == 0
    assert second.unchanged == 1 and second.changed_ids == []


def test_bad_order_is_reported_and_the_rest_stored(engine, account):
    good = order_data("US")
    bad = order_data("XX")
    result = store_orders(account, [bad, good], "t", set(engine.marketplaces))
    assert result.created == 1
    assert result.errors == [f"order {bad.order_id}: unknown marketplace 'XX'"]


def test_refund_after_planning_skips_at_send_time(engine, account):
    data = order_data("US", delivered_days_ago=6)
    ids = store_orders(account, [data], "t").changed_ids
    review_campaign(delay_days=0)
    plan_orders(engine, ids)
    refunded = order_data(
        "US",
        delivered_days_ago=6,
        order_id=data.order_id,
        events={**data.events, "refunded": datetime.now(UTC) - timedelta(hours=1)},
    )
    store_orders(account, [refunded], "t")
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "skipped" and message.reason.startswith("excluded: refunded on")


def test_review_window_not_open_yet_waits(engine, account):
    ids = store_orders(account, [order_data("US", delivered_days_ago=1)], "t").changed_ids
    review_campaign(delay_days=0)
    plan_orders(engine, ids)
    dispatch_due(engine)
    message = Message.get()
    assert message.state == SCHEDULED
    assert message.reason.startswith("waiting: review-request window opens")


def test_paused_campaign_sends_nothing(engine, account):
    ids = store_orders(account, [order_data("US", delivered_days_ago=7)], "t").changed_ids
    step = review_campaign(delay_days=0)
    plan_orders(engine, ids)
    Campaign.update(status="paused").where(Campaign.id == step.campaign_id).execute()
    assert dispatch_due(engine).claimed == 0
    assert Message.get().state == SCHEDULED


def test_expired_lease_before_the_call_returns_to_scheduled(engine, account):
    ids = store_orders(account, [order_data("US", delivered_days_ago=7)], "t").changed_ids
    review_campaign(delay_days=0)
    plan_orders(engine, ids)
    assert len(claim(engine, "crashed-worker", 10)) == 1
    Message.update(lease_until=utcnow() - timedelta(seconds=1)).execute()
    recover_expired_leases(engine)
    assert Message.get().state == SCHEDULED


def test_expired_lease_after_the_call_started_is_in_doubt_not_resent(make_engine):
    engine = make_engine()
    account = SellerAccount.create(name="S", source="demo")
    ids = store_orders(account, [order_data("US", delivered_days_ago=7)], "t").changed_ids
    step = review_campaign(delay_days=0)
    # a sender that cannot prove anything: replace dry_run's reconcile with "unknown"
    from dataclasses import replace

    engine.senders["dry_run"] = replace(engine.senders["dry_run"], reconcile=None)
    plan_orders(engine, ids)
    (mid,) = [c.message_id for c in claim(engine, "crashed-worker", 10)]
    Attempt.create(message=mid)  # the worker died after committing the attempt
    Message.update(lease_until=utcnow() - timedelta(seconds=1)).execute()
    dispatch_due(engine)
    message = Message.get_by_id(mid)
    assert message.state == IN_DOUBT and "may or may not" in message.error
    assert step.id == message.step_id


def test_in_doubt_dry_run_is_reconciled_and_retried_once(engine, account):
    ids = store_orders(account, [order_data("US", delivered_days_ago=7)], "t").changed_ids
    review_campaign(delay_days=0)
    plan_orders(engine, ids)
    (mid,) = [c.message_id for c in claim(engine, "crashed-worker", 10)]
    Attempt.create(message=mid)
    Message.update(lease_until=utcnow() - timedelta(seconds=1)).execute()
    dispatch_due(engine)
    # In doubt first; the channel is asked once a full lease has passed (a slow worker
    # may still be waiting for the answer and record it itself).
    assert Message.get_by_id(mid).state == IN_DOUBT
    lease = engine.settings.get("dispatch", "lease_seconds")
    freeze(utcnow() + timedelta(seconds=lease + 1))
    try:
        dispatch_due(engine)
    finally:
        freeze(None)
    assert Message.get_by_id(mid).state == SENT


def _claim_concurrently(engine, workers=4):
    results = []
    barrier = threading.Barrier(workers)

    def work(n):
        engine.db.connect(reuse_if_open=True)
        barrier.wait()
        results.append([c.message_id for c in claim(engine, f"w{n}", 25)])
        engine.db.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def _many_due(engine, n=60):
    account = SellerAccount.create(name="S", source="demo")
    batch = [order_data("US", delivered_days_ago=7) for _ in range(n)]
    ids = store_orders(account, batch, "t").changed_ids
    review_campaign(delay_days=0)
    assert plan_orders(engine, ids).planned == n


def test_concurrent_claims_never_share_a_message_sqlite(engine):
    _many_due(engine)
    claimed = [i for ids in _claim_concurrently(engine) for i in ids]
    assert len(claimed) == len(set(claimed)) == 60
    assert Message.select().where(Message.state == SENDING).count() == 60


@pytest.mark.postgres
def test_concurrent_claims_never_share_a_message_postgres(make_settings, pg_url):
    engine = Engine(make_settings(database={"url": pg_url}))
    engine.migrate()
    try:
        _many_due(engine)
        claimed = [i for ids in _claim_concurrently(engine) for i in ids]
        assert len(claimed) == len(set(claimed)) == 60
    finally:
        engine.close()


@pytest.mark.redis
def test_slice_on_redis_queue(make_engine, redis_url):
    from core.queue import make_huey
    from core.tasks import EngineQueue

    engine = make_engine(
        queue={"backend": "redis", "redis_url": redis_url, "name": "followup-test"}
    )
    huey = make_huey(engine.settings)
    huey.flush()
    runtime = EngineQueue(engine, huey)
    account = demo_account()
    review_campaign()
    runtime.sync_account(account.id)  # enqueued, not run: a real Redis holds it
    assert huey.pending_count() == 1
    task = huey.dequeue()
    huey.execute(task)
    assert Order.select().count() == 300
    huey.flush()
