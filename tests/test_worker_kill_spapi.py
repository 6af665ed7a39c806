"""A real huey consumer sending through the Amazon plugin is SIGKILLed mid-batch, twice,
restarted, and the project's fake SP-API's own record shows Amazon's rules were kept.

The worker (``python -m core.worker``: SqliteHuey file + the app's SQLite file) sends
Request a Review (``amazon_review``) and confirmCustomizationDetails
(``amazon_messaging``) through python-amazon-sp-api to a ``FakeSPAPI`` in this process.
Two kill modes:

* ``in_flight``: each kill lands while a POST is in flight: the fake has recorded it and
  applied its effect, then holds the answer (fault ``timeout_after_commit``) so the
  worker is still waiting when it is killed (one Request a Review, one Messaging POST);
* ``after_calls``: killed once the fake has recorded N calls, wherever the worker is
  (mostly between an "ask first" GET and the POST: nothing was sent for that message).

What must hold afterwards, checked against the fake's record:

* one Request a Review per order at most (the fake would answer a second one 403:
  a blind resend would show up as a second recorded POST);
* one POST per (order, Messaging step) at most;
* nothing for cancelled, refunded, returned or opted-out orders, including those that
  became so while the worker was down;
* every message final or waiting after the leases expired: the interrupted review
  reconciled as sent through the actions endpoint, the interrupted Messaging POST left
  in doubt for a person (the Messaging API cannot tell whether the buyer got it).
"""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from core.clock import utcnow
from core.config import load_settings
from core.contracts import FINAL_STATES, IN_DOUBT, SENDING, SENT, SKIPPED, WAITING_STATES
from core.engine import Engine
from core.models import Attempt, Message, OptOut, Order, OrderEvent
from core.planning import plan_orders
from core.queue import make_huey
from core.sync import sync_account
from core.tasks import EngineQueue
from tests.fake_spapi import FakeSPAPI
from tests.fake_spapi.harness import amazon_settings, connect, messaging_step, review_step
from tests.support.worker import (
    leases_expired,
    start_worker,
    stop,
    wait_for,
    worker_config,
    worker_log,
)

log = logging.getLogger(__name__)

REVIEW_POST = "createProductReviewAndSellerFeedbackSolicitation"
CUSTOM_POST = "confirmCustomizationDetails"
ELIGIBLE = 34  # orders that must each get exactly one Request a Review
CUSTOMIZED = 10  # of which the first ones also get the customization message
CUSTOM_SKU = "CUSTOM-1"
# Fast enough for the test to stay well under a minute; the plugin follows the fake's
# x-amzn-RateLimit-Limit header, so the same pacing code runs as against Amazon.
FAKE_RATE = (20.0, 5)
CLIENT_TIMEOUT = 15  # the worker waits this long for an answer: the kill comes first
DEADLINE = 50.0  # the whole test, worker start-ups included


def order_id(n: int) -> str:
    return f"302-{7000000 + n:07d}-{(n * 7919) % 10000000:07d}"


def seed(fake: FakeSPAPI) -> dict[str, list[str]]:
    """Orders on the fake: eligible ones (the first CUSTOMIZED with a customizable SKU)
    and orders that must get nothing, whatever happens to the worker."""
    for n in range(ELIGIBLE):
        sku = CUSTOM_SKU if n < CUSTOMIZED else f"SKU-{n % 3}"
        fake.add_order(order_id(n), delivered_days_ago=7 + n % 5, sku=sku)
    groups = {"cancelled": [], "refunded": [], "returned": [], "opted_out": []}
    n = ELIGIBLE
    for kind, ids in groups.items():
        for _ in range(2):
            fake.add_order(
                order_id(n),
                status="CANCELLED" if kind == "cancelled" else "SHIPPED",
                sku=CUSTOM_SKU,  # would get both messages if it were not excluded
            )
            ids.append(order_id(n))
            n += 1
    groups["eligible"] = [order_id(i) for i in range(ELIGIBLE)]
    return groups


def claim_order() -> list[Message]:
    """Due messages in the order ``core.dispatch.claim`` takes them."""
    return list(
        Message.select()
        .where(Message.state.in_(("scheduled", "retry")) & (Message.due_at <= utcnow()))
        .order_by(Message.priority, Message.due_at, Message.id)
    )


def oid_of(message: Message) -> str:
    return Order.get_by_id(message.order_id).order_id


def exclude_now(order_ids: dict[str, str], fake: FakeSPAPI) -> None:
    """While the worker is down: one order is refunded, one cancelled (also on Amazon),
    one buyer opts out. Their messages were claimed before the kill."""
    now = utcnow()
    for kind in ("refunded", "cancelled"):
        order = Order.get(Order.order_id == order_ids[kind])
        OrderEvent.create(order=order, kind=kind, occurred_at=now, source="test")
    fake.touch(order_ids["cancelled"], status="CANCELLED")
    buyer = Order.get(Order.order_id == order_ids["opted_out"]).buyer_key
    assert buyer, "the opt-out needs the buyer's key"
    OptOut.create(buyer_key=buyer, kind="opt_out", reason="buyer asked (test)")


@dataclass
class Kill:
    """When to SIGKILL the worker: once ``ready()`` holds (polled on the fake's record).
    ``message_id``: the message whose POST is held in flight (mode "in_flight")."""

    what: str
    ready: Callable[[], bool]
    message_id: int | None = None
    operation: str = ""


def set_up(engine, fake: FakeSPAPI) -> tuple[dict[str, list[str]], int]:
    """Seller, campaigns, orders synced from the fake and planned; returns the order
    groups and how many calls the fake had seen before dispatching started."""
    groups = seed(fake)
    account = connect(engine)
    review_step()
    custom = messaging_step(
        CUSTOM_POST,
        {
            "de": "Bitte bestätigen Sie die Gravur für Bestellung {{ order_id }}.",
            "en": "Please confirm the engraving for order {{ order_id }}.",
        },
    )
    custom.rules = [{"rule": "sku_include", "params": {"values": [CUSTOM_SKU]}}]
    custom.save()
    synced = sync_account(engine, account.id)
    assert not synced.errors, synced.errors
    assert synced.created == ELIGIBLE + 8
    # searchOrders without includedData BUYER carries no buyer e-mail, hence no buyer
    # key: give each order one, as an opt-out needs it to match the buyer.
    for order in Order.select():
        order.buyer_key = f"buyer-{order.order_id}"
        order.save()
    # What Amazon's order data alone does not say: refunds, returns, opt-outs.
    for kind in ("refunded", "returned"):
        for oid in groups[kind]:
            order = Order.get(Order.order_id == oid)
            OrderEvent.create(order=order, kind=kind, occurred_at=utcnow(), source="test")
    for oid in groups["opted_out"]:
        buyer = Order.get(Order.order_id == oid).buyer_key
        OptOut.create(buyer_key=buyer, kind="opt_out", reason="buyer asked (test)")
    plan_orders(engine, synced.changed_ids)
    return groups, len(fake.calls)


def kill_plan(mode: str, fake: FakeSPAPI, reviews, customs, queue) -> list[Kill]:
    """The two kills of a run (see ``Kill``)."""
    if mode == "after_calls":
        # After N calls the fake recorded (reads and writes), wherever the worker happens
        # to be: asking for the actions, between the attempt row and the POST, storing
        # the answer, or sleeping for the rate limit.
        first = len(fake.calls)
        return [
            Kill(f"after {n} calls", lambda n=n: len(fake.calls) - first >= n) for n in (31, 66)
        ]
    # The kills land while a POST is in flight: the fake has applied it and holds the
    # answer (fault timeout_after_commit, longer than the client waits).
    targets = sorted(
        [
            (REVIEW_POST, reviews[len(reviews) // 3]),
            (CUSTOM_POST, customs[len(customs) // 2]),
        ],
        key=lambda target: [m.id for m in queue].index(target[1].id),
    )
    kills = []
    for operation, message in targets:
        oid = oid_of(message)
        fake.faults[f"{operation}:{oid}"] = ["timeout_after_commit"]

        def applied(operation=operation, oid=oid) -> bool:
            with fake.lock:
                if operation == REVIEW_POST:
                    return fake.solicited[oid] == 1
                return len(fake.messages.get(oid, [])) == 1

        kills.append(Kill(f"{operation} for {oid} in flight", applied, message.id, operation))
    return kills


@pytest.mark.parametrize("mode", ["in_flight", "after_calls"])
def test_sigkill_mid_amazon_dispatch_then_restart_keeps_amazon_rules(tmp_path, fake, mode):
    """Two SIGKILLs during a batch of 44 messages, a restart after each, then the fake's
    record and the message states are checked (see the module doc)."""
    started = time.monotonic()
    deadline = started + DEADLINE
    worker = None
    fake.page_size = 100
    fake.hang_seconds = CLIENT_TIMEOUT + 5
    for operation in (
        "getSolicitationActionsForOrder",
        REVIEW_POST,
        "getMessagingActionsForOrder",
        "GetAttributes",
        CUSTOM_POST,
    ):
        fake.limits[operation] = FAKE_RATE
    config = worker_config(tmp_path, ["amazon"], amazon_settings(fake, timeout=CLIENT_TIMEOUT))
    engine = Engine(load_settings(config))
    engine.migrate()
    try:
        groups, sync_calls = set_up(engine, fake)
        queue = claim_order()
        reviews = [m for m in queue if m.sender == "amazon_review"]
        customs = [m for m in queue if m.sender == "amazon_messaging"]
        assert {oid_of(m) for m in reviews} == set(groups["eligible"])
        assert {oid_of(m) for m in customs} == set(groups["eligible"][:CUSTOMIZED])
        kills = kill_plan(mode, fake, reviews, customs, queue)
        # Three review-only orders at the end of the queue become unsendable while
        # the worker is down after the first kill.
        tail = [oid_of(m) for m in reviews[-3:]]
        assert not set(tail) & set(groups["eligible"][:CUSTOMIZED])
        late = dict(zip(("refunded", "cancelled", "opted_out"), tail, strict=True))

        runtime = EngineQueue(engine, make_huey(engine.settings))
        for round_no, kill in enumerate(kills):
            worker = start_worker(config, SP_API_DEFAULT_MARKETPLACE=None)
            runtime.dispatch()  # enqueued in the SqliteHuey file; the worker takes it
            assert wait_for(kill.ready, until=deadline, poll=0.02), (
                f"kill {round_no + 1} ({kill.what}) never came\n{worker_log(config)}"
            )
            stop(worker, signal.SIGKILL)
            assert worker.returncode == -signal.SIGKILL
            states = Counter(m.state for m in Message.select())
            log.info(
                "kill %d at %.1f s (%s): fake had %d reviews, %d messages; states %s",
                round_no + 1,
                time.monotonic() - started,
                kill.what,
                len(fake.solicited),
                len(fake.messages),
                dict(states),
            )
            assert states[SENDING] and states[SENT], f"not mid-batch: {states}"
            if kill.message_id is not None:
                killed = Message.get_by_id(kill.message_id)
                assert killed.state == SENDING, (killed.state, killed.reason, killed.error)
                assert (
                    Attempt.select()
                    .where((Attempt.message == kill.message_id) & Attempt.finished_at.is_null())
                    .exists()
                ), "the attempt row is committed before the POST"
            if round_no == 0:
                touched = {c.order_id for c in fake.calls[sync_calls:]}
                assert not touched & set(late.values()), "the late orders ran early"
                exclude_now(late, fake)
            # The killed worker's leases expire ([dispatch] lease_seconds = 2).
            assert wait_for(leases_expired, until=deadline, poll=0.1)

        worker = start_worker(config, SP_API_DEFAULT_MARKETPLACE=None)
        runtime.dispatch()
        last_enqueue = time.monotonic()

        def settled() -> bool:
            nonlocal last_enqueue
            pending = Message.select().where(
                (Message.state == SENDING)
                | (Message.state.in_(("scheduled", "retry")) & (Message.due_at <= utcnow()))
                | ((Message.state == IN_DOUBT) & (Message.sender == "amazon_review"))
            )
            if not pending.exists():
                return True
            if time.monotonic() - last_enqueue > 1.0:
                runtime.dispatch()  # e.g. the first one ran before the leases expired
                last_enqueue = time.monotonic()
            return False

        assert wait_for(settled, until=deadline, poll=0.1), (
            Counter((m.sender, m.state) for m in Message.select()),
            worker_log(config),
        )
        stop(worker, signal.SIGINT)
        assert worker.returncode == 0, worker_log(config)
        worker = None
        elapsed = time.monotonic() - started
        log.info("%s: settled after %.1f s", mode, elapsed)

        check_fake_record(fake, groups, late, sync_calls)
        check_messages(fake, groups, late)
        if mode == "in_flight":
            held = {k.operation: Message.get_by_id(k.message_id) for k in kills}
            reviewed, doubtful = held[REVIEW_POST], held[CUSTOM_POST]
            assert reviewed.state == SENT, (reviewed.state, reviewed.reason, reviewed.error)
            assert reviewed.reason == "reconciled: the channel confirms it was sent"
            # reconciled by asking Amazon again (preflight, then reconcile), no POST
            asked = [
                c
                for c in fake.calls_of("getSolicitationActionsForOrder")
                if c.order_id == oid_of(reviewed)
            ]
            assert len(asked) == 2, asked
            assert doubtful.state == IN_DOUBT, (doubtful.state, doubtful.reason)
        assert elapsed < DEADLINE
    finally:
        if worker is not None:
            stop(worker, signal.SIGKILL)
        engine.close()


def check_fake_record(fake: FakeSPAPI, groups, late, sync_calls: int) -> None:
    """What Amazon (the fake) received: at most once, and nothing for excluded orders."""
    reviewed = set(groups["eligible"]) - set(late.values())
    customized = set(groups["eligible"][:CUSTOMIZED])
    review_posts = Counter(c.order_id for c in fake.calls_of(REVIEW_POST))
    # Every POST the fake saw, 403'd or not: a blind resend would be a second one here.
    assert review_posts == Counter(dict.fromkeys(reviewed, 1)), review_posts
    assert fake.solicited == review_posts
    custom_posts = Counter(c.order_id for c in fake.calls_of(CUSTOM_POST))
    assert set(custom_posts) <= customized and max(custom_posts.values()) == 1, custom_posts
    assert all(len(sent) == 1 for sent in fake.messages.values()), fake.messages
    assert set(fake.messages) == set(custom_posts)
    excluded = set(late.values()).union(
        *(groups[kind] for kind in ("cancelled", "refunded", "returned", "opted_out"))
    )
    called = {c.order_id for c in fake.calls[sync_calls:]}
    assert not called & excluded, f"excluded orders were called: {called & excluded}"
    assert fake.denied == 0


def check_messages(fake: FakeSPAPI, groups, late) -> None:
    """Every message final or waiting with its reason, matching what the fake received."""
    messages = list(Message.select())
    states = Counter(m.state for m in messages)
    assert SENDING not in states, states
    assert set(states) <= FINAL_STATES | WAITING_STATES, states
    for m in messages:
        assert m.reason or m.error, f"message {m.id} in {m.state} without a reason"
        assert "403" not in m.reason + m.error, (m.state, m.reason, m.error)
    by_order: dict[str, dict[str, Message]] = {}
    for m in messages:
        by_order.setdefault(oid_of(m), {})[m.sender] = m
    assert set(by_order) == set(groups["eligible"]), "excluded orders were not planned"
    late_ids = set(late.values())
    for oid in groups["eligible"]:
        review = by_order[oid]["amazon_review"]
        if oid in late_ids:
            assert review.state == SKIPPED and review.reason.startswith("excluded:"), (
                oid,
                review.state,
                review.reason,
            )
        else:
            assert review.state == SENT, (oid, review.state, review.reason, review.error)
            assert fake.solicited[oid] == 1
        custom = by_order[oid].get("amazon_messaging")
        if custom is None:
            continue
        if custom.state == IN_DOUBT:
            # The Messaging API cannot say whether the buyer got it: a person decides.
            assert "worker stopped during the send" in custom.error
            assert len(fake.messages.get(oid, [])) <= 1
        else:
            assert custom.state == SENT, (oid, custom.state, custom.reason, custom.error)
            assert len(fake.messages[oid]) == 1
    assert "refunded" in by_order[late["refunded"]]["amazon_review"].reason
    assert "cancelled" in by_order[late["cancelled"]]["amazon_review"].reason
    assert "opted out" in by_order[late["opted_out"]]["amazon_review"].reason
