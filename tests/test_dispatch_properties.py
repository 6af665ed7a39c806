"""Property-based test of planning + dispatch with crashes injected between every step.

A hypothesis state machine creates orders, refunds/cancels/returns them, opts buyers
out, plans, dispatches through a flaky sender (succeeds, throttles, fails, times out
after the request went out, raises after it went out), "kills" workers after the claim
and after the attempt was committed, and moves the clock. After every step:

* never two sends per (order, step) in the channel's own ledger;
* never two review requests per order, across campaigns;
* never a send to an order that was opted out, cancelled, refunded or returned before it;
* once leases have expired and the dispatcher ran, no message is left in ``sending``.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
)

from core import Sender, SendResult, clock, hookimpl
from core.blocklist import add_opt_out
from core.config import settings_from_dict
from core.contracts import SENDING
from core.dispatch import claim, dispatch_due
from core.engine import Engine
from core.models import Campaign, Message, Order, SellerAccount, Step
from core.planning import plan_orders
from core.store import store_orders
from tests.conftest import base_config, order_data

START = datetime(2026, 6, 1, 12, 0)
LEASE = 60
BEHAVIOURS = (
    "ok",
    "throttle",
    "fail",
    "timeout_after_commit",
    "raise_after_commit",
    "die_before_send",
    "die_after_send",
)


class WorkerKilled(BaseException):  # noqa: N818 - models SIGKILL, not an error
    """The process died mid-call: nothing after this point runs, no handler catches it."""


def answer_after_send(behaviour: str) -> SendResult:
    """The flaky channel's answer once the request went out: the worker dies, the
    answer times out or the call raises (in doubt), or "sent"."""
    if behaviour == "die_after_send":
        raise WorkerKilled
    if behaviour == "timeout_after_commit":
        return SendResult("in_doubt", "timed out after the request was sent")
    if behaviour == "raise_after_commit":
        raise TimeoutError("read timed out")
    return SendResult("sent", "ok")


class FlakyChannel:
    """Two senders over one ledger of what really 'went out'."""

    def __init__(self):
        self.ledger: list[tuple[str, int, bool, int]] = []
        self.behaviour = "ok"
        self.seq = itertools.count()  # a logical clock: what happened before what

    def went_out(self, message, order):
        self.ledger.append(
            (order.order_id, message.step_id, message.review_request, next(self.seq))
        )

    def send(self, engine, message, order, rendered):
        b = self.behaviour
        if b == "throttle":
            return SendResult("retry", "429 throttled", retry_after=30)
        if b == "fail":
            return SendResult("failed", "400 invalid")
        if b == "die_before_send":
            raise WorkerKilled
        self.went_out(message, order)
        return answer_after_send(b)

    def reconcile(self, engine, message, order):
        # Like the Solicitations actions endpoint: the channel can tell what it received.
        sent = any(o == order.order_id and s == message.step_id for o, s, *_ in self.ledger)
        return "sent" if sent else "not_sent"

    @hookimpl
    def register_senders(self, engine):
        return [
            Sender(
                "flaky_review",
                "Flaky review",
                self.send,
                reconcile=self.reconcile,
                review_request=True,
                needs_body=False,
            ),
            Sender(
                "flaky_plain", "Flaky plain", self.send, reconcile=self.reconcile, needs_body=False
            ),
        ]


def flaky_campaigns() -> None:
    """Two active review-request campaigns and one of plain messages, each one step on
    delivery through the flaky channel."""
    for name, sender, kind in (
        ("Review A", "flaky_review", "review_request"),
        ("Review B", "flaky_review", "review_request"),
        ("Instructions", "flaky_plain", ""),
    ):
        c = Campaign.create(name=name, status="active")
        Step.create(
            campaign=c,
            trigger="delivered",
            sender=sender,
            message_type=kind,
            window_start_hour=0,
            window_end_hour=24,
            delay_days=0,
        )


# An order's draws: its marketplace and how many days ago it was delivered.
ORDER_DRAWS = dict(
    mkt=st.sampled_from(["US", "DE", "JP"]),
    delivered=st.integers(min_value=5, max_value=25),
)


def planned_order(engine, account, mkt: str, delivered: int):
    """An order delivered ``delivered`` days before the frozen clock, stored and planned
    as a sync does; returns its data."""
    data = order_data(mkt, days_ago=delivered + 3, delivered_days_ago=delivered)
    # order_data counts from the real clock; shift it to the frozen one
    data = _shift(data, datetime.now(UTC) - clock.utcnow().replace(tzinfo=UTC))
    ids = store_orders(account, [data], "test", set(engine.marketplaces))
    plan_orders(engine, ids.changed_ids)  # as a sync does
    return data


class DispatchMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self):
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp())
        clock.freeze(START)
        cfg = base_config(self.tmp, dispatch={"lease_seconds": LEASE, "max_attempts": 3})
        self.channel = FlakyChannel()
        self.engine = Engine(
            settings_from_dict(cfg, self.tmp / "config.toml"),
            extra_plugins=(("flaky", self.channel),),
        )
        self.engine.migrate()
        self.account = SellerAccount.create(name="S", source="demo")
        flaky_campaigns()
        self.blocked: dict[str, int] = {}  # order id -> when (logical) it became unsendable
        self.datas: dict[str, object] = {}

    def teardown(self):
        self.engine.close()
        clock.freeze(None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def now(self):
        return clock.utcnow().replace(tzinfo=UTC)

    @rule(target=orders, **ORDER_DRAWS)
    def new_order(self, mkt, delivered):
        data = planned_order(self.engine, self.account, mkt, delivered)
        self.datas[data.order_id] = data
        return data.order_id

    @rule(order_id=orders, kind=st.sampled_from(["cancelled", "returned", "refunded"]))
    def unwanted_event(self, order_id, kind):
        data = self.datas[order_id]
        events = {**data.events, kind: self.now()}
        from dataclasses import replace

        updated = replace(data, events=events, last_updated_at=self.now())
        self.datas[order_id] = updated
        store_orders(self.account, [updated], "test", set(self.engine.marketplaces))
        self.blocked.setdefault(order_id, next(self.channel.seq))

    @rule(order_id=orders)
    def opt_out(self, order_id):
        order = Order.get(Order.order_id == order_id)
        if add_opt_out(order.buyer_key, "opt_out", "test"):
            self.blocked.setdefault(order_id, next(self.channel.seq))

    @rule()
    def plan(self):
        plan_orders(self.engine, [o.id for o in Order.select()])

    @rule(behaviour=st.sampled_from(BEHAVIOURS))
    def set_behaviour(self, behaviour):
        self.channel.behaviour = behaviour

    @rule(repeat=st.integers(min_value=1, max_value=3))
    def dispatch(self, repeat):
        for _ in range(repeat):
            self._dispatch_once()

    def _dispatch_once(self):
        try:
            dispatch_due(self.engine)
        except WorkerKilled:
            pass  # the next worker finds the lease and the open attempt

    @rule()
    def crash_after_claim(self):
        claim(self.engine, "dead-worker", 2)

    @rule(minutes=st.integers(min_value=1, max_value=3 * 24 * 60))
    def advance_clock(self, minutes):
        clock.freeze(clock.utcnow() + timedelta(minutes=minutes))

    @invariant()
    def never_twice_per_order_and_step(self):
        pairs = [(o, s) for o, s, *_ in self.channel.ledger]
        assert len(pairs) == len(set(pairs)), pairs

    @invariant()
    def one_review_request_per_order(self):
        reviews = [o for o, _, review, _ in self.channel.ledger if review]
        assert len(reviews) == len(set(reviews)), reviews

    @invariant()
    def never_sent_after_becoming_unsendable(self):
        for order_id, _, _, when in self.channel.ledger:
            blocked = self.blocked.get(order_id)
            assert blocked is None or when < blocked, (order_id, when, blocked)

    @invariant()
    def no_stale_sending_after_recovery(self):
        stale = Message.select().where(
            (Message.state == SENDING) & (Message.lease_until < clock.utcnow())
        )
        if stale.exists():
            behaviour, self.channel.behaviour = self.channel.behaviour, "ok"
            dispatch_due(self.engine)
            self.channel.behaviour = behaviour
            assert (
                not Message.select()
                .where((Message.state == SENDING) & (Message.lease_until < clock.utcnow()))
                .exists()
            )


def _shift(data, delta):
    from dataclasses import replace

    def s(value):
        return None if value is None else value - delta

    return replace(
        data,
        purchased_at=s(data.purchased_at),
        last_updated_at=s(data.last_updated_at),
        shipped_at=s(data.shipped_at),
        earliest_delivery=s(data.earliest_delivery),
        latest_delivery=s(data.latest_delivery),
        events={k: s(v) for k, v in data.events.items()},
    )


DispatchMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestDispatchProperties = DispatchMachine.TestCase
