"""Property-based test of "never twice" with several dispatch workers interleaving.

``test_dispatch_properties`` runs one worker at a time. Production runs several (two huey
threads by default), and what broke there was the interleaving: a recovery resetting a
message another worker had just claimed again, a worker sending from its stale batch copy
after its lease expired and someone else had sent the message, a stale worker overwriting
``sent`` with "waiting: not offered".

This state machine keeps several workers, each with its own claimed batch and the copy
loaded at claim time, and lets hypothesis interleave their steps: claim a batch, process
the next message of a batch (from that copy), die between messages, recover expired
leases, let a fresh worker run a whole ``dispatch_due``, move the clock past the lease.
Threads are modelled in one process by *interrupts*: hypothesis arms one, and it fires
either

* during a send, after the request reached the channel: the send is slower than the
  lease (the clock moves past it), optionally with a live heartbeat that keeps renewing;
  or
* as the dispatcher opens one of its transactions (every claim, renewal, attempt,
  recovery and result goes through one, and SQLite serialises them, so these are the
  points where another thread's work can come in between),

and then runs a short hypothesis-chosen list of other workers' steps (claim, process,
recover, expire, a whole dispatch) with their own channel behaviour, before the
interrupted worker goes on. Each step also picks how the channel answers its sends: the
flaky channel's crashes (die before/after the send, time out or raise after it went
out, throttle, fail) stay in play, plus a channel that says "not offered" (always, or
once the message went out, as Amazon's action list does). Checked after every step, and
at every interrupt point:

* never two sends per (order, step) in the channel's own ledger, never two review
  requests per order;
* never a send after an opt-out, nor after a cancel/return/refund the sending worker's
  copy already knew of (a batch copy is trusted for a few seconds by design);
* a message seen ``sent`` stays ``sent``, and ``sent`` only what went out;
* right after a recovery, nothing is ``sending`` with an expired lease;
* at the end, once leases expired and dispatch ran again, nothing is lost: every
  message is final, or waiting with its reason.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import logging
import shutil
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from dataclasses import replace as dc_replace
from datetime import UTC, timedelta
from pathlib import Path

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from core import Sender, SendResult, clock, dispatch, hookimpl
from core.blocklist import add_opt_out
from core.config import settings_from_dict
from core.contracts import FINAL_STATES, IN_DOUBT, RETRY, SCHEDULED, SENDING, SENT
from core.dispatch import (
    Claim,
    claim,
    dispatch_due,
    load_claimed,
    process,
    recover_expired_leases,
    renew,
)
from core.engine import Engine
from core.models import Message, Order, SellerAccount
from core.planning import plan_orders
from core.store import store_orders
from tests.conftest import base_config
from tests.test_dispatch_properties import (
    BEHAVIOURS,
    LEASE,
    ORDER_DRAWS,
    START,
    WorkerKilled,
    answer_after_send,
    flaky_campaigns,
    planned_order,
)

log = logging.getLogger(__name__)


# --- The dispatcher's claim API, used only through these four functions.


def take_batch(engine, owner: str, limit: int) -> list:
    """Claim up to ``limit`` due messages for ``owner``: [(claim, copy loaded now)]."""
    return [(loaded[0], loaded) for loaded in load_claimed(claim(engine, owner, limit))]


def process_copy(engine, claimed, loaded) -> str:
    return process(engine, claimed, loaded)


def message_of(loaded) -> Message:
    return loaded[1]


def heartbeat(engine, message: Message) -> None:
    """What the heartbeat thread does during a send: renew the sending claim's lease."""
    renew(engine, Claim(message.id, message.lease_owner, message.claim_seq))


# --- end of the claim API

WORKERS = 3
MAX_ORDERS = 4
# The channel's answers. "offered_once" is Amazon's action list: it offers a message
# until it went out (a review request: until any went out for the order), then says
# "not offered", the answer that overwrote ``sent`` in production; "not_offered" says so
# whatever went out.
CHANNEL = (*BEHAVIOURS, "offered_once", "not_offered")
# What can run while another step waits; "worker" (that worker's next step) twice as often.
NESTED = ("worker", "worker", "recover", "expire", "dispatch")


@dataclass
class Worker:
    """One dispatch thread: its batch of claims with the copies loaded at claim time."""

    name: str
    generation: int = 0
    batch: list = field(default_factory=list)

    @property
    def owner(self) -> str:
        return f"{self.name}.{self.generation}"  # a restarted worker is a new owner

    def die(self) -> None:
        self.batch.clear()  # its leases stay until they expire
        self.generation += 1


@dataclass
class Interrupt:
    """Another thread's turn: at the ``countdown``-th point of kind ``where``, run
    ``actions`` with the channel answering ``behaviour``."""

    where: str  # "send" or "transaction"
    countdown: int
    actions: list
    behaviour: str
    heartbeat: bool


class InterleavingChannel:
    """A flaky channel over one ledger of what really went out; ``during_send`` is
    called once the request reached it, before its answer comes back."""

    def __init__(self, during_send):
        self.ledger: list[tuple] = []  # (order id, step id, review?, seq, loaded seq, id)
        self.behaviour = "ok"
        self.seq = itertools.count()  # a logical clock: what happened before what
        self.during_send = during_send

    def send(self, engine, message, order, rendered):
        b = self.behaviour
        if b == "die_before_send":
            raise WorkerKilled
        if b in ("throttle", "fail"):
            self.during_send(message)  # a refusal can be slow too
            if b == "throttle":
                return SendResult("retry", "429 throttled", retry_after=30)
            return SendResult("failed", "400 invalid")
        seq = next(self.seq)
        # When the deciding copy was read: a batch copy's tag, else just now.
        loaded = getattr(message, "_model_loaded", seq)
        self.ledger.append(
            (order.order_id, message.step_id, message.review_request, seq, loaded, message.id)
        )
        self.during_send(message)
        return answer_after_send(b)

    def preflight(self, engine, message, order):
        if self.behaviour == "offered_once":
            offered = not any(
                o == order.order_id and (s == message.step_id or (r and message.review_request))
                for o, s, r, *_ in self.ledger
            )
        else:
            offered = self.behaviour != "not_offered"
        return None if offered else "waiting: the channel does not offer this message now"

    def reconcile(self, engine, message, order):
        # Like the Solicitations actions endpoint: the channel can tell what it received.
        sent = any(o == order.order_id and s == message.step_id for o, s, *_ in self.ledger)
        return "sent" if sent else "not_sent"

    @hookimpl
    def register_senders(self, engine):
        common = dict(preflight=self.preflight, reconcile=self.reconcile, needs_body=False)
        return [
            Sender("flaky_review", "Flaky review", self.send, review_request=True, **common),
            Sender("flaky_plain", "Flaky plain", self.send, **common),
        ]


class _PreemptibleDatabase:
    """The dispatcher's ``database`` with a preemption point as each transaction opens."""

    def __init__(self, db, point):
        self._db = db
        self._point = point

    def atomic(self, *args, **kwargs):
        self._point("transaction")
        return self._db.atomic(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._db, name)


def _nested_actions():
    return st.lists(
        st.tuples(st.sampled_from(NESTED), st.integers(0, WORKERS - 1)), min_size=1, max_size=4
    )


def _settings(tmp: Path):
    cfg = base_config(tmp, dispatch={"lease_seconds": LEASE, "max_attempts": 3})
    return settings_from_dict(cfg, tmp / "config.toml")


_TEMPLATE: list[Path] = []


def _migrated_template() -> Path:
    """A data directory with a migrated database and keys, made once per session."""
    if not _TEMPLATE:
        tmp = Path(tempfile.mkdtemp())
        atexit.register(shutil.rmtree, tmp, ignore_errors=True)
        engine = Engine(_settings(tmp))
        engine.migrate()
        engine.close()
        _TEMPLATE.append(tmp)
    return _TEMPLATE[0]


class ConcurrentDispatchMachine(RuleBasedStateMachine):
    orders = Bundle("orders")

    def __init__(self):
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp())
        clock.freeze(START)
        # A copy of a migrated database: migrating anew for every example costs more
        # than the example's own steps.
        shutil.copytree(_migrated_template(), self.tmp, dirs_exist_ok=True)
        self.channel = InterleavingChannel(self._during_send)
        self.engine = Engine(_settings(self.tmp), extra_plugins=(("flaky", self.channel),))
        self.engine.migrate()
        self.account = SellerAccount.create(name="S", source="demo")
        flaky_campaigns()
        self.workers = [Worker(f"w{i}") for i in range(WORKERS)]
        self.running: set[str] = set()  # workers inside a step: not interleaved with selves
        self.interrupt: Interrupt | None = None
        self.violations: list[str] = []
        self.ever_sent: set[int] = set()
        self.cancelled: dict[str, int] = {}  # order id -> when (logical) it became unwanted
        self.opted_out: dict[str, int] = {}
        self.datas: dict[str, object] = {}
        # Every transaction the dispatcher opens is a point where another thread may run.
        self._real = (dispatch.write_transaction, dispatch.database)
        dispatch.write_transaction = self._preemptible_transaction
        dispatch.database = _PreemptibleDatabase(self._real[1], self._point)

    def teardown(self):
        try:
            # After a failed step the example has failed already; settling it would only
            # add a second, different error to shrink.
            if sys.exc_info()[0] is None and not self.violations:
                self._finally_nothing_lost()
        finally:
            dispatch.write_transaction, dispatch.database = self._real
            self.engine.close()
            clock.freeze(None)
            shutil.rmtree(self.tmp, ignore_errors=True)

    # --- interleaving machinery

    def _preemptible_transaction(self, **kwargs):
        self._point("transaction")
        return self._real[0](**kwargs)

    def _during_send(self, message):
        self._point("send", message)

    def _point(self, where: str, message=None) -> None:
        """Another thread's turn, if an interrupt is armed for this point."""
        if threading.current_thread() is not threading.main_thread():
            return  # the heartbeat thread's renewals
        self._note_sent()
        irq = self.interrupt
        if irq is None or irq.where != where:
            return
        irq.countdown -= 1
        if irq.countdown > 0:
            return
        self.interrupt = None  # one at a time: the steps below run uninterrupted
        log.debug("interrupt at %s: %s with %s", where, irq.actions, irq.behaviour)
        event(f"interrupt fired during a {where}")  # the statistics show what was explored
        if where == "send":
            self._expire()  # the answer takes longer than the lease
        with self._channel_answers(irq.behaviour):
            for kind, index in irq.actions:
                if where == "send" and irq.heartbeat:
                    heartbeat(self.engine, message)  # the live worker's heartbeat beats
                try:
                    self._act(kind, self.workers[index])
                except Exception as exc:  # noqa: BLE001 - the dispatcher would swallow it
                    self.violations.append(f"interleaved {kind} raised {exc!r}")
        self._note_sent()

    @contextlib.contextmanager
    def _channel_answers(self, behaviour: str):
        """How the channel answers this step's sends (an interrupted send keeps its own)."""
        saved, self.channel.behaviour = self.channel.behaviour, behaviour
        try:
            yield
        finally:
            self.channel.behaviour = saved

    def _act(self, kind: str, worker: Worker) -> None:
        if kind == "worker":
            self._step(worker, 2)
        elif kind == "recover":
            self._recover()
        elif kind == "expire":
            self._expire()
        elif kind == "dispatch":
            self._dispatch()

    def _step(self, worker: Worker, limit: int) -> None:
        if worker.batch:
            self._process_next(worker)
        else:
            self._claim(worker, limit)

    def _claim(self, worker: Worker, limit: int) -> None:
        if worker.batch or worker.name in self.running:
            return  # a worker claims its next batch once done with this one
        self.running.add(worker.name)
        try:
            batch = take_batch(self.engine, worker.owner, limit)
        finally:
            self.running.discard(worker.name)
        loaded_at = next(self.channel.seq)
        for _, loaded in batch:
            message_of(loaded)._model_loaded = loaded_at
        worker.batch = batch
        log.debug("%s claimed %s", worker.owner, [message_of(x).id for _, x in batch])

    def _process_next(self, worker: Worker) -> None:
        if not worker.batch or worker.name in self.running:
            return
        claimed, loaded = worker.batch.pop(0)
        self.running.add(worker.name)
        try:
            state = process_copy(self.engine, claimed, loaded)
            log.debug("%s processed %s: %s", worker.owner, message_of(loaded).id, state)
            event(f"a worker's batch copy ended {state}")
        except WorkerKilled:
            log.debug("%s died sending %s", worker.owner, message_of(loaded).id)
            worker.die()
        finally:
            self.running.discard(worker.name)

    def _recover(self) -> None:
        before = clock.utcnow()
        recover_expired_leases(self.engine)
        if clock.utcnow() == before:  # no interleaved step moved the clock meanwhile
            stale = Message.select(Message.id).where(
                (Message.state == SENDING) & (Message.lease_until < before)
            )
            ids = [m.id for m in stale]
            if ids:
                self.violations.append(f"still sending with an expired lease: {ids}")

    def _expire(self) -> None:
        clock.freeze(clock.utcnow() + timedelta(seconds=LEASE + 1))

    def _dispatch(self) -> None:
        try:
            dispatch_due(self.engine)  # a fresh worker: its own owner id
        except WorkerKilled:
            pass  # the next worker finds the lease and the open attempt

    def _note_sent(self) -> None:
        """``sent`` is terminal: every message ever seen sent is still sent."""
        # Plain SQL: this runs at every transaction the dispatcher opens.
        table, db = Message._meta.table_name, self.engine.db
        rows = db.execute_sql(f"SELECT id FROM {table} WHERE state = {db.param}", (SENT,))
        now_sent = {message_id for (message_id,) in rows}
        lost = self.ever_sent - now_sent
        if lost:
            states = {m.id: (m.state, m.reason, m.error) for m in Message.select()}
            self.violations.append(f"sent overwritten: {[(i, states[i]) for i in lost]}")
        self.ever_sent |= now_sent

    def now(self):
        return clock.utcnow().replace(tzinfo=UTC)

    def _busy(self) -> list[Worker]:
        return [w for w in self.workers if w.batch]

    # --- orders and the seller

    # Every example starts with an order, so the workers have messages from step one.
    @initialize(target=orders, **ORDER_DRAWS)
    def first_order(self, mkt, delivered):
        return self._new_order(mkt, delivered)

    # A few orders are enough to interleave on; more only slow each step down.
    @precondition(lambda self: len(self.datas) < MAX_ORDERS)
    @rule(target=orders, **ORDER_DRAWS)
    def new_order(self, mkt, delivered):
        return self._new_order(mkt, delivered)

    def _new_order(self, mkt, delivered):
        data = planned_order(self.engine, self.account, mkt, delivered)
        self.datas[data.order_id] = data
        return data.order_id

    # One rule for what makes an order unsendable, so worker steps get more of the draws.
    @rule(order_id=orders, kind=st.sampled_from(["cancelled", "returned", "refunded", "opt_out"]))
    def order_becomes_unsendable(self, order_id, kind):
        if kind == "opt_out":
            order = Order.get(Order.order_id == order_id)
            if add_opt_out(order.buyer_key, "opt_out", "test"):
                self.opted_out.setdefault(order_id, next(self.channel.seq))
            return
        data = self.datas[order_id]
        events = {**data.events, kind: self.now()}
        updated = dc_replace(data, events=events, last_updated_at=self.now())
        self.datas[order_id] = updated
        ids = store_orders(self.account, [updated], "test", set(self.engine.marketplaces))
        self.cancelled.setdefault(order_id, next(self.channel.seq))
        plan_orders(self.engine, ids.changed_ids)  # as a sync does

    # Days pass (postponed and retried messages fall due), but only a few: past Amazon's
    # windows every message is excluded and nothing is left to race on.
    @precondition(lambda self: clock.utcnow() - START < timedelta(days=4))
    @rule(minutes=st.integers(min_value=1, max_value=36 * 60))
    def advance_clock(self, minutes):
        clock.freeze(clock.utcnow() + timedelta(minutes=minutes))

    # --- the workers

    # A worker's next step, as its thread takes it: claim a batch when it has none, else
    # process the next message from the batch's copy. One rule, not two, so that
    # hypothesis's swarm testing (each example enables a subset of the rules) never
    # leaves the workers able to claim but not to process.
    @rule(
        worker=st.integers(0, WORKERS - 1),
        limit=st.integers(min_value=1, max_value=3),
        behaviour=st.sampled_from(CHANNEL),
    )
    def worker_step(self, worker, limit, behaviour):
        with self._channel_answers(behaviour):
            self._step(self.workers[worker], limit)

    @precondition(lambda self: self._busy())
    @rule(data=st.data())
    def kill_worker(self, data):
        data.draw(st.sampled_from(self._busy()), label="worker").die()

    # ``after_lease``: a worker that comes along once the leases have expired (folded in
    # rather than left to ``expire_leases`` alone, so that swarm testing keeps it often).
    @rule(after_lease=st.booleans())
    def recover(self, after_lease):
        if after_lease:
            self._expire()
        self._recover()

    @rule()
    def expire_leases(self):
        self._expire()

    @rule(after_lease=st.booleans(), behaviour=st.sampled_from(CHANNEL))
    def dispatch(self, after_lease, behaviour):
        if after_lease:
            self._expire()
        with self._channel_answers(behaviour):
            self._dispatch()

    @rule(
        where=st.sampled_from(["send", "transaction"]),
        countdown=st.integers(min_value=1, max_value=4),
        actions=_nested_actions(),
        behaviour=st.sampled_from(CHANNEL),
        beating=st.booleans(),
    )
    def arm_interrupt(self, where, countdown, actions, behaviour, beating):
        self.interrupt = Interrupt(where, countdown, actions, behaviour, beating)

    # --- the promises

    @invariant()
    def no_violation_at_any_interrupt_point(self):
        assert not self.violations, self.violations

    @invariant()
    def never_twice_per_order_and_step(self):
        pairs = [(o, s) for o, s, *_ in self.channel.ledger]
        assert len(pairs) == len(set(pairs)), self.channel.ledger

    @invariant()
    def one_review_request_per_order(self):
        reviews = [o for o, _, review, *_ in self.channel.ledger if review]
        assert len(reviews) == len(set(reviews)), self.channel.ledger

    @invariant()
    def never_sent_after_becoming_unsendable(self):
        for order_id, _, _, when, loaded, _ in self.channel.ledger:
            opted = self.opted_out.get(order_id)
            assert opted is None or when < opted, ("sent after opt-out", order_id, when, opted)
            # Order events come with the worker's copy: one read before the cancel may
            # still send (dispatch re-reads copies older than a few seconds).
            unwanted = self.cancelled.get(order_id)
            assert unwanted is None or loaded < unwanted, ("sent after", order_id, loaded)

    @invariant()
    def sent_stays_sent_and_only_what_went_out(self):
        went_out = {(o, s) for o, s, *_ in self.channel.ledger}
        sent = (
            Message.select(Message.id, Order.order_id, Message.step_id, Message.reason)
            .join(Order)
            .where(Message.state == SENT)
        )
        now_sent = set()
        for message_id, order_id, step_id, reason in sent.tuples():
            assert (order_id, step_id) in went_out, (message_id, reason)
            now_sent.add(message_id)
        overwritten = list(Message.select().where(Message.id.in_(self.ever_sent - now_sent)))
        assert not overwritten, [("sent overwritten", m.id, m.state, m.reason) for m in overwritten]
        self.ever_sent |= now_sent

    def _finally_nothing_lost(self) -> None:
        """Every worker stops; once leases expire, dispatch settles every message."""
        self.interrupt = None
        self.channel.behaviour = "ok"
        for worker in self.workers:
            worker.die()
        for _ in range(2):  # recovery and sends, then reconciliation after a lease in doubt
            self._expire()
            dispatch_due(self.engine)
        self.no_violation_at_any_interrupt_point()
        self.sent_stays_sent_and_only_what_went_out()
        self.never_twice_per_order_and_step()
        self.one_review_request_per_order()
        now = clock.utcnow()
        for m in Message.select():
            where = (m.id, m.state, m.reason, m.error, m.due_at)
            if m.state in FINAL_STATES:
                assert m.reason or m.error, where
            elif m.state == IN_DOUBT:
                assert m.error, where  # for a person to resolve, saying why
            else:
                assert m.state in (SCHEDULED, RETRY), where  # not sending: never stuck
                assert m.due_at > now and (m.reason or m.error), where


ConcurrentDispatchMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestConcurrentDispatchProperties = ConcurrentDispatchMachine.TestCase
