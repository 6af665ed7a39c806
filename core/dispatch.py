"""Dispatch: due messages -> fenced claim -> decide again -> compose -> send -> record.

The application database is the source of truth; huey only says "dispatch now", and a
lost huey task costs nothing but a minute's delay. The promises, and how they are kept
with several worker threads and processes, slow channels and SIGKILL at any moment:

* **Never twice.** A claim takes due messages under a lease inside a write transaction
  (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) and raises
  each message's ``claim_seq``. ``(lease_owner, claim_seq)`` is the claim's *fence*:
  every later write of that worker (lease renewal, the attempt, the result) is an UPDATE
  whose WHERE clause repeats the fence, and a worker whose fence no longer matches drops
  the message without sending. The ``Attempt`` row is inserted in the same transaction
  that checks the fence, immediately before the sender is called, and committed first:
  if the process dies after that, recovery finds the unfinished attempt and marks the
  message ``in_doubt`` instead of sending again. Only a channel that proves the message
  did not go out (``reconcile`` -> ``"not_sent"``) lets it be retried.
* **A lease is kept while it is used.** The lease is renewed with the attempt, for the
  rest of a batch (all at once) whenever its copy gets older than a third of the lease,
  and by a heartbeat during a send; a live worker's lease does not expire under a slow
  channel. Recovery of an
  expired lease is a compare-and-set on the stale fence *and* the expired lease, never
  on the state alone.
* **``sent`` is terminal.** No UPDATE in the core moves a message out of ``sent``: every
  transition names the states it may leave in its WHERE clause.
* **Never lost, never silent.** An expired lease without an attempt goes back to
  ``scheduled``; every path ends in a state with ``reason`` or ``error`` filled in.
* **Durable where it matters, fast elsewhere** (PostgreSQL). The attempt of a real send
  and the record of its answer wait for the disk (``write_transaction``). Claims, lease
  renewals, records without a send (skips, postponements) and dry runs commit without
  waiting: only a crash of the database server can lose them, and then the message is
  claimed and judged again; a lost tail of commits never includes a real attempt, since
  a durable commit flushes every commit before it. A dry run is recorded with its
  attempt in one transaction after the (in-process) call: nothing left the machine.
* **Few round trips, same promises.** A batch is claimed in one statement on
  PostgreSQL and read in a few queries (orders, events, items, templates);
  the fenced UPDATE and the attempt's INSERT (or the attempt's closing) are one
  statement there, so the fence check and the record it guards cannot come apart.
* **A pass drains** (``dispatch_due``): batch after batch while messages are due, for
  up to the budget its caller gives (the tick: about a minute).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import operator
import os
import random
import socket
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import timedelta

from peewee import Select, Value, fn

from . import ledger, seller_copies
from .attachments import note_files
from .clock import utcnow
from .compose import (
    ComposeError,
    ComposeRetry,
    NoVariant,
    TemplateBroken,
    compose,
    keep_templates,
)
from .contracts import (
    FAILED,
    IN_DOUBT,
    RECHECK_WAITING,
    RETRY,
    SCHEDULED,
    SENDING,
    SENDING_STATUSES,
    SENT,
    SKIPPED,
    SendResult,
)
from .db import database, is_sqlite, returning_alone, write_transaction
from .decide import ERROR, EXCLUDED, SEND_TIME, WAIT, decide
from .items import keep_items
from .models import Attempt, Campaign, Message, Order, OrderEvent, SellerAccount, Step

log = logging.getLogger(__name__)

# A batch loaded longer ago than this is re-read message by message, so vetoes judge an
# order cancelled or opted out during a slow batch on what is true now.
FRESH_SECONDS = 5.0
# Throttling (HTTP 429) backs off from a minute to this, doubling; it never counts as a
# failed attempt, and gives up only after [dispatch] throttle_give_up_hours.
THROTTLE_MAX_DELAY = timedelta(hours=4)
THROTTLED = "throttled"  # an Attempt's outcome when the channel answered 429
CLAIM_LOST = "claim_lost"  # process()'s answer when another worker or a person acted first


@dataclass
class DispatchResult:
    claimed: int = 0
    states: dict[str, int] = field(default_factory=dict)
    recovered: int = 0
    more: bool = False  # the pass stopped (budget) while messages may still be due

    def count(self, state: str) -> None:
        self.states[state] = self.states.get(state, 0) + 1


@dataclass(frozen=True)
class Claim:
    """One claimed message and the fence of the claim that took it."""

    message_id: int
    owner: str
    seq: int


def worker_id() -> str:
    return (
        f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 30)}"  # a name, not a secret  # nosec B311
    )


def _lease_end(engine):
    return utcnow() + timedelta(seconds=engine.settings.get("dispatch", "lease_seconds"))


def _fence(claim: Claim, states=(SENDING,)):
    """The WHERE clause of every write a claim's holder makes: still its claim."""
    return (
        (Message.id == claim.message_id)
        & Message.state.in_(states)
        & (Message.lease_owner == claim.owner)
        & (Message.claim_seq == claim.seq)
    )


def _claimed(ids: list[int], owner: str) -> list[Claim]:
    """The claims ``owner`` holds among ``ids`` (read inside the claiming transaction)."""
    rows = Message.select(Message.id, Message.claim_seq).where(
        Message.id.in_(ids) & (Message.state == SENDING) & (Message.lease_owner == owner)
    )
    seqs = dict(rows.tuples())
    return [Claim(i, owner, seqs[i]) for i in ids if i in seqs]


def _claim_values(owner: str, lease, now) -> dict:
    """What taking a message writes: ``sending`` under ``owner``'s lease, and the next
    ``claim_seq`` (the fence every later write of this claim is conditional on)."""
    return dict(
        state=SENDING,
        lease_until=lease,
        lease_owner=owner,
        claim_seq=Message.claim_seq + 1,
        attempts=Message.attempts + 1,
        updated_at=now,
    )


def _take(ids: list[int], owner: str, lease, now, **extra) -> list[Claim]:
    Message.update(**_claim_values(owner, lease, now), **extra).where(
        Message.id.in_(ids) & Message.state.in_([SCHEDULED, RETRY])
    ).execute()
    return _claimed(ids, owner)


def _due(limit: int, now):
    """The ids of up to ``limit`` due messages of running campaigns, most urgent first."""
    due = Message.alias("due")
    return (
        due.select(due.id)
        .join(Campaign, on=(due.campaign == Campaign.id))
        .where(
            due.state.in_([SCHEDULED, RETRY])
            & (due.due_at <= now)
            & Campaign.status.in_(SENDING_STATUSES)
        )
        .order_by(due.priority, due.due_at, due.id)
        .limit(limit)
    )


def claim(engine, owner: str, limit: int) -> list[Claim]:
    """Reserve up to ``limit`` due messages for ``owner``, most urgent first.

    On PostgreSQL one statement picks, locks (``SKIP LOCKED``: concurrent claimers take
    disjoint messages, none waits for another) and takes the batch, returning each
    message's new ``claim_seq``: the fence is read from the very row version the claim
    wrote. On SQLite ``BEGIN IMMEDIATE`` serialises claimers and a statement costs no
    round trip, so the pick, the take and the read of the fences stay three.
    """
    now = utcnow()
    lease = _lease_end(engine)
    with write_transaction(durable=False):
        if is_sqlite():
            ids = [i for (i,) in _due(limit, now).tuples()]
            return _take(ids, owner, lease, now) if ids else []
        pick = _due(limit, now).for_update(of=Message.alias("due"), skip_locked=True)
        taken = (
            Message.update(**_claim_values(owner, lease, now))
            .where(Message.id.in_(pick) & Message.state.in_([SCHEDULED, RETRY]))
            .returning(Message.id, Message.claim_seq, Message.priority, Message.due_at)
            .tuples()
            .execute()
        )
        rows = sorted(taken, key=lambda row: (row[2], row[3], row[0]))  # most urgent first
    return [Claim(message_id, owner, seq) for message_id, seq, _, _ in rows]


def claim_one(engine, owner: str, message_id: int) -> Claim | None:
    """Claim one scheduled or retrying message now, whatever its due time ("send now")."""
    now = utcnow()
    with write_transaction():
        found = _take([message_id], owner, _lease_end(engine), now, due_at=now)
    return found[0] if found else None


def renew(engine, claim: Claim) -> bool:
    """Extend the claim's lease; False when the claim was lost (recovered, re-claimed)."""
    with write_transaction(durable=False):
        return bool(Message.update(lease_until=_lease_end(engine)).where(_fence(claim)).execute())


def renew_all(engine, claims: list[Claim]) -> list[Claim]:
    """Extend the leases of ``claims`` in one transaction; the ones still held.

    One UPDATE whose WHERE clause is every claim's own fence, then one read of what it
    left: a claim lost meanwhile (recovered, claimed again) is neither renewed nor
    returned."""
    if not claims:
        return []
    # Every claim's fence, grouped by claim_seq (a batch holds a few distinct ones), so
    # the WHERE clause stays shallow however large the batch.
    by_seq: dict[tuple[str, int], list[int]] = {}
    for c in claims:
        by_seq.setdefault((c.owner, c.seq), []).append(c.message_id)
    fences = functools.reduce(
        operator.or_,
        (
            Message.id.in_(ids) & (Message.lease_owner == owner) & (Message.claim_seq == seq)
            for (owner, seq), ids in by_seq.items()
        ),
    )
    with write_transaction(durable=False):
        held = fences & (Message.state == SENDING)
        Message.update(lease_until=_lease_end(engine)).where(held).execute()
        rows = Message.select(Message.id, Message.state, Message.lease_owner, Message.claim_seq)
        now = {
            i: (state, owner, seq)
            for i, state, owner, seq in rows.where(
                Message.id.in_([c.message_id for c in claims])
            ).tuples()
        }
    return [c for c in claims if now.get(c.message_id) == (SENDING, c.owner, c.seq)]


@contextlib.contextmanager
def _heartbeat(engine, claim: Claim, needed: bool):
    """Keep renewing the lease while a slow channel answers, so a live worker's send is
    never taken for a crashed one."""
    if not needed:
        yield
        return
    stop = threading.Event()
    every = max(0.5, engine.settings.get("dispatch", "lease_seconds") / 3)

    def beat() -> None:
        try:
            while not stop.wait(every):
                try:
                    if not renew(engine, claim):
                        log.warning("message %s: lease lost during the send", claim.message_id)
                        return
                except Exception:  # noqa: BLE001 - e.g. "database is locked": try again
                    # Giving up here would let the lease run out under a live send; the
                    # next beat comes well before it does.
                    log.warning(
                        "message %s: lease renewal failed, retrying",
                        claim.message_id,
                        exc_info=True,
                    )
        finally:
            if not database.is_closed():
                database.close()  # this thread's own connection

    thread = threading.Thread(target=beat, name=f"lease-{claim.message_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _finish(
    claim: Claim | None,
    message: Message,
    state: str,
    *,
    reason: str = "",
    error: str = "",
    attempt: int | None = None,
    after_send: bool = False,
    outcome: str = "",
    durable: bool = False,
    **extra,
) -> bool:
    """Record a message's new state if ``claim`` still holds it, releasing the lease.

    ``after_send``: the sender was called under this claim, so its answer also wins over
    recovery's ``in_doubt`` (recovery keeps the fence): the channel's own word is better
    than a guess. ``claim=None`` settles an ``in_doubt`` message (reconciliation).
    ``durable``: the record of a real channel's answer, flushed to disk before this
    returns; anything else may commit lazily (``write_transaction``). Returns False,
    changing nothing, when the claim was lost.
    """
    now = utcnow()
    values = dict(state=state, lease_until=None, lease_owner="", updated_at=now, **extra)
    if reason:
        values["reason"] = reason
    if error or after_send:
        values["error"] = error  # the channel's answer replaces recovery's guess
    if claim is None:
        where = (Message.id == message.id) & (Message.state == IN_DOUBT)
        where &= Message.claim_seq == message.claim_seq
    else:
        where = _fence(claim, (SENDING, IN_DOUBT) if after_send else (SENDING,))
    opened = Attempt.id == attempt if attempt else Attempt.finished_at.is_null()
    closes = dict(finished_at=now, outcome=outcome or state, detail=error or reason)
    if is_sqlite():
        with write_transaction(durable=durable, immediate=False):
            held = Message.update(**values).where(where).execute()
            if held:
                Attempt.update(**closes).where((Attempt.message == message.id) & opened).execute()
    else:
        # One statement: the fenced UPDATE, and the attempt closed only if it applied;
        # alone (the usual case) it is its own transaction, one round trip.
        recorded = Message.update(**values).where(where).returning(Message.id).cte("held")
        applied = Select([recorded], [recorded.c.id])
        closed = (
            Attempt.update(**closes)
            .where((Attempt.message == message.id) & Attempt.message.in_(applied) & opened)
            .returning(Attempt.id)
            .cte("closed")
        )
        count = Select([recorded], [fn.COUNT(recorded.c.id)]).with_cte(recorded, closed)
        ((held,),) = returning_alone(count, durable=durable)
    if not held:
        log.warning(
            "message %s: not recorded as %s, its claim was lost (%s); left as is",
            message.id,
            state,
            reason or error,
        )
        return False
    for key, value in values.items():
        setattr(message, key, value)
    _log_outcome(message, state, reason or error)
    return True


def _log_outcome(message: Message, state: str, why: str) -> None:
    """One line per outcome, with ids and the channel: never the text or a secret.

    ``why`` is the reason or the channel's error, both written by Followup or the API
    (not by the buyer); the JSON log format gets the ids as fields (core/logs.py)."""
    order = message.__rel__.get("order")  # loaded with the batch; no extra query
    order_id = order.order_id if order is not None else message.order_id
    fields = dict(
        event="dispatch",
        message_id=message.id,
        order_id=order_id,
        campaign_id=message.campaign_id,
        channel=message.sender,
        account_id=message.account_id,
        state=state,
    )
    level = logging.DEBUG if state == SCHEDULED else logging.INFO
    log.log(
        level,
        "message %s %s: order %s, campaign %s, channel %s: %s",
        message.id,
        state,
        order_id,
        message.campaign_id,
        message.sender,
        why[:200],
        extra=fields,
    )


def _ended(claim, message, state: str, **kw) -> str:
    """``_finish`` and the state to report: ``CLAIM_LOST`` when it did not apply."""
    return state if _finish(claim, message, state, **kw) else CLAIM_LOST


def _postpone(claim: Claim, message: Message, reason: str) -> str:
    now = utcnow()
    recheck = getattr(reason, "recheck_after", None)
    if reason.startswith("waiting: daily message limit"):
        # Amazon's limit is per day: try again as the next day starts, in priority order.
        due = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    elif recheck:
        due = now + timedelta(seconds=recheck)  # a transient cause: look again soon
    else:
        due = now + RECHECK_WAITING
    return _ended(
        claim,
        message,
        SCHEDULED,
        reason=str(reason),
        due_at=due,
        attempts=max(0, message.attempts - 1),  # waiting is not a failed attempt
    )


def _not_now(claim: Claim, message: Message, reason: str) -> str:
    """A sender said no: "waiting: ..." postpones, anything else skips."""
    if reason.startswith("waiting:"):
        return _postpone(claim, message, reason)
    return _ended(claim, message, SKIPPED, reason=reason)


def load_claimed(claims: list[Claim]) -> list[tuple[Claim, Message, Order, Step | None]]:
    """The claimed messages with their orders, steps and order events, in few queries.

    Also what each send would otherwise read on its own: the steps' templates with
    their latest versions and variants, and whether a step has any stored file; a
    query per batch instead of one per message. The copy is as fresh as the batch,
    which ``dispatch_due`` reads again when it is older than ``FRESH_SECONDS``, and
    every write is fenced whatever the copy says. Not the buyers' opt-outs: each send
    reads those itself, so an opt-out recorded while the batch runs stops every
    message of it that has not gone out yet.
    """
    ids = [c.message_id for c in claims]
    messages = list(Message.select().where(Message.id.in_(ids)).order_by(Message.id))
    orders = {o.id: o for o in Order.select().where(Order.id.in_({m.order_id for m in messages}))}
    step_ids = {m.step_id for m in messages if m.step_id}
    steps = {}
    if step_ids:  # with their campaigns: status decides the sender and the test copy
        rows = Step.select(Step, Campaign).join(Campaign).where(Step.id.in_(step_ids))
        steps = {s.id: s for s in rows}
    events: dict[int, dict] = {i: {} for i in orders}
    rows = OrderEvent.select(OrderEvent.order, OrderEvent.kind, OrderEvent.occurred_at).where(
        OrderEvent.order.in_(list(orders))
    )
    for order_id, kind, when in rows.tuples():
        events[order_id][kind] = when
    for order in orders.values():
        order.__dict__["_event_times"] = events[order.id]
    keep_items(orders)
    accounts = {
        a.id: a
        for a in SellerAccount.select().where(
            SellerAccount.id.in_({o.account_id for o in orders.values()})
        )
    }
    for order in orders.values():
        order.account = accounts[order.account_id]
    keep_templates(steps.values())
    note_files(steps.values())
    for m in messages:
        m.order = orders[m.order_id]
        if m.step_id in steps:
            m.step = steps[m.step_id]
    by_id = {m.id: m for m in messages}
    return [
        (
            c,
            by_id[c.message_id],
            orders[by_id[c.message_id].order_id],
            steps.get(by_id[c.message_id].step_id),
        )
        for c in claims
        if c.message_id in by_id
    ]


def process(engine, claim: Claim, loaded=None) -> str:
    """Send one claimed message; returns its new state (``CLAIM_LOST``: not ours now).

    ``loaded`` is the batch's copy from ``load_claimed``, passed only while it is fresh
    (``dispatch_due``: younger than ``FRESH_SECONDS`` and a third of the lease). Without
    it the lease is renewed first (proving the claim still holds) and the message read
    again. Either way every write below repeats the fence, so a stale copy can cost an
    extra read of the channel, never a send.
    """
    if loaded is None:
        if not renew(engine, claim):
            log.info("message %s: claim lost before it was processed", claim.message_id)
            return CLAIM_LOST
        found = load_claimed([claim])
        if not found:
            return CLAIM_LOST
        loaded = found[0]
    _, message, order, step = loaded
    if step is None:
        return _ended(claim, message, SKIPPED, reason="skipped: its campaign step was deleted")
    verdict = decide(engine, order, step, mode=SEND_TIME, message=message)
    if verdict.outcome == ERROR:
        # The step is broken (a rule it cannot run): failed, shown under "Needs your
        # attention", and retried by the seller once the step is fixed.
        return _ended(claim, message, FAILED, reason=verdict.reason, error=verdict.reason)
    if verdict.outcome == EXCLUDED:
        return _ended(claim, message, SKIPPED, reason=verdict.reason)
    if verdict.outcome == WAIT:
        return _postpone(claim, message, verdict.reason)
    if message.variant == "holdout":
        return _ended(claim, message, SKIPPED, reason="skipped: A/B holdout group receives nothing")
    sender = engine.sender(message.sender)
    if sender.prepare is not None:
        reason = sender.prepare(engine, message, order)
        if reason:
            return _not_now(claim, message, reason)
    try:
        composed = compose(engine, order, step, message)
    except ComposeRetry as exc:
        return _retry_later(engine, claim, message, order, exc.reason, exc.retry_after)
    except NoVariant as exc:
        if step.no_variant_policy == "review_request" and not message.review_request:
            return _fallback_to_review_request(engine, claim, message, exc.reason)
        return _ended(claim, message, SKIPPED, reason=exc.reason)
    except TemplateBroken as exc:
        # The seller's template cannot be rendered: nothing the buyer did, and fixable.
        state = _ended(claim, message, FAILED, reason=exc.reason, error=exc.reason)
        if state != CLAIM_LOST:
            engine.notify_failed(message, order, exc.reason)
        return state
    except ComposeError as exc:
        return _ended(claim, message, SKIPPED, reason=exc.reason)
    if sender.preflight is not None:
        reason = sender.preflight(engine, message, order)
        if reason:
            return _not_now(claim, message, reason)
    if sender.dry_run:
        state = _dry_run(engine, claim, message, order, step, sender, composed)
        if state is not None:
            return state
    attempt = _begin_attempt(engine, claim, message, composed)
    if isinstance(attempt, str):  # the daily limit, reached by another worker's sends
        return _postpone(claim, message, attempt)
    if attempt is None:
        log.warning("message %s: claim lost before the send; not sent", message.id)
        return CLAIM_LOST
    try:
        with _heartbeat(engine, claim, needed=not sender.dry_run):
            result = sender.send(engine, message, order, composed.rendered)
    except Exception as exc:  # noqa: BLE001 - we cannot know whether it went out
        log.exception("sender %s raised for message %s", sender.name, message.id)
        result = SendResult(IN_DOUBT, f"sender raised {type(exc).__name__}: {exc}")
    if result.status == SENT and sender.dry_run and step.campaign.status == "test":
        # A test campaign reaches no buyer; the seller reads each message in their own
        # inbox instead. The copy never changes the message's outcome.
        note = seller_copies.copy_note(engine, order.account, composed.rendered, order.marketplace)
        result = replace(result, detail=f"{result.detail}; {note}")
    return record(engine, claim, message, order, result, attempt)


def _real(engine, message: Message) -> bool:
    """Whether the message's sender reaches someone (not a dry run)."""
    sender = engine.senders.get(message.sender)
    return sender is None or not sender.dry_run


def _dry_run(engine, claim: Claim, message: Message, order, step, sender, composed) -> str | None:
    """A dry-run sender's send, recorded in one transaction with its attempt.

    Nothing leaves the machine, so the attempt need not be committed before the call:
    a worker that dies here leaves the message ``sending`` without an attempt, and
    recovery schedules it again; no buyer can receive anything twice. The record is
    still fenced on the claim. None (the usual path then runs): an answer other than
    sent, which ``record`` knows how to store.
    """
    result = sender.send(engine, message, order, composed.rendered)
    if result.status != SENT:
        return None
    if step.campaign.status == "test":
        # A test campaign reaches no buyer; the seller reads each message in their own
        # inbox instead. The copy never changes the message's outcome.
        note = seller_copies.copy_note(engine, order.account, composed.rendered, order.marketplace)
        result = replace(result, detail=f"{result.detail}; {note}")
    now = utcnow()
    rendered = composed.rendered
    values = dict(
        state=SENT,
        lease_until=None,
        lease_owner="",
        updated_at=now,
        reason=result.detail,
        error="",
        sent_at=now,
        external_id=result.external_id,
        subject=rendered.subject,
        body=rendered.text,
        language=rendered.language,
        template_version=composed.version,
    )
    recorded = Message.update(**values).where(_fence(claim))
    attempt = (now, now, SENT, result.detail)
    if message.dry_run:
        # Nothing to check first: the record and its attempt are one statement, committed
        # on its own (lazily: a dry run reaches nobody, see the module's docstring).
        held = _with_attempt(recorded, message.id, *attempt, alone=True)
    else:
        with write_transaction(durable=False):
            # A live message on a dry-run sender still counts against the daily limit.
            full = ledger.daily_limit_at_send(message.account_id)
            if full:
                return _postpone(claim, message, full)
            held = _with_attempt(recorded, message.id, *attempt)
    if held is None:
        log.warning("message %s: claim lost before the dry run was recorded", message.id)
        return CLAIM_LOST
    for key, value in values.items():
        setattr(message, key, value)
    _log_outcome(message, SENT, result.detail)
    engine.notify_sent(message, order, result)
    return SENT


def _begin_attempt(engine, claim: Claim, message: Message, composed) -> int | str | None:
    """Check the fence, renew the lease and commit the attempt, in one transaction,
    immediately before the call. None: the claim was lost; a reason: the account's
    daily limit is used up (by sends of other workers since ``decide``); do not send."""
    rendered = composed.rendered
    with write_transaction(durable=_real(engine, message)):
        if not message.dry_run:
            full = ledger.daily_limit_at_send(message.account_id)
            if full:
                return full
        held = Message.update(
            subject=rendered.subject,
            body=rendered.text,
            language=rendered.language,
            template_version=composed.version,
            lease_until=_lease_end(engine),
        ).where(_fence(claim))
        return _with_attempt(held, message.id, utcnow())


def _with_attempt(
    fenced,
    message_id: int,
    started,
    finished=None,
    outcome: str = "",
    detail: str = "",
    *,
    alone: bool = False,
) -> int | None:
    """Apply ``fenced`` (a message UPDATE whose WHERE clause is the claim's fence) and,
    only if it applied, insert the message's ``Attempt``: the new attempt's id, or None
    (nothing written) when the claim was lost.

    Run inside the caller's transaction, so the attempt is committed exactly when the
    fence held: the record that makes recovery say ``in_doubt`` instead of sending
    again. On PostgreSQL both are one statement (the UPDATE in a ``WITH`` feeding the
    INSERT), one round trip; SQLite pays no round trip and runs them one after another.
    ``alone``: not inside a transaction; the pair is its own, lazily committed one
    (``returning_alone``: on PostgreSQL a single round trip in all).
    """
    values = (started, finished, outcome, detail)
    fields = [Attempt.started_at, Attempt.finished_at, Attempt.outcome, Attempt.detail]
    if is_sqlite():
        with write_transaction(durable=False) if alone else contextlib.nullcontext():
            if not fenced.execute():
                return None
            return Attempt.insert(
                message=message_id, **{f.name: v for f, v in zip(fields, values, strict=True)}
            ).execute()
    held = fenced.returning(Message.id).cte("held")
    columns = [held.c.id] + [
        Value(v, converter=f.db_value) for f, v in zip(fields, values, strict=True)
    ]
    query = (
        Attempt.insert_from(Select([held], columns), fields=[Attempt.message, *fields])
        .with_cte(held)
        .returning(Attempt.id)
    )
    found = returning_alone(query, durable=False) if alone else list(query.tuples().execute())
    return found[0][0] if found else None


def record(
    engine, claim: Claim, message: Message, order: Order, result: SendResult, attempt=None
) -> str:
    """Store a sender's answer as the message's new state (if the claim still holds)."""
    max_attempts = engine.settings.get("dispatch", "max_attempts")
    done = dict(attempt=attempt, after_send=True, durable=_real(engine, message))
    if result.status == SENT:
        state = _ended(
            claim,
            message,
            SENT,
            reason=result.detail,
            sent_at=utcnow(),
            external_id=result.external_id,
            **done,
        )
        if state == SENT:
            engine.notify_sent(message, order, result)
        return state
    if result.status == SKIPPED:
        return _ended(claim, message, SKIPPED, reason=result.detail, **done)
    if result.status == RETRY and result.throttled:
        return _throttled(engine, claim, message, order, result, attempt)
    if result.status == RETRY and message.attempts < max_attempts:
        delay = result.retry_after or min(3600, 60 * 2**message.attempts)
        delay *= random.uniform(1.0, 1.25)  # jitter: a burst's retries spread  # nosec B311
        due = utcnow() + timedelta(seconds=delay)
        state = _ended(claim, message, RETRY, error=result.detail, due_at=due, **done)
    elif result.status == IN_DOUBT:
        state = _ended(claim, message, IN_DOUBT, error=result.detail, **done)
    else:
        detail = result.detail
        if result.status == RETRY:
            detail = f"gave up after {message.attempts} attempts: {detail}"
        state = _ended(claim, message, FAILED, error=detail, **done)
    if state != CLAIM_LOST:
        engine.notify_failed(message, order, message.error)
    return state


def _throttled(engine, claim: Claim, message: Message, order: Order, result, attempt) -> str:
    """The channel refused for rate only: back off from a minute to hours, waiting at
    least as long as it asked (``retry_after``); not a failed attempt. Fails only when
    it has been throttled for ``[dispatch] throttle_give_up_hours``."""
    now = utcnow()
    earlier = Attempt.select(Attempt.started_at).where(
        (Attempt.message == message.id) & (Attempt.outcome == THROTTLED)
    )
    times = [when for (when,) in earlier.tuples()]
    give_up = timedelta(hours=engine.settings.get("dispatch", "throttle_give_up_hours"))
    done = dict(attempt=attempt, after_send=True, durable=_real(engine, message))
    if times and now - min(times) >= give_up:
        detail = f"gave up: the channel kept throttling it since {min(times):%Y-%m-%d %H:%M} UTC"
        state = _ended(claim, message, FAILED, error=f"{detail}: {result.detail}", **done)
        if state != CLAIM_LOST:
            engine.notify_failed(message, order, message.error)
        return state
    backoff = min(THROTTLE_MAX_DELAY.total_seconds(), 60 * 2 ** len(times))
    delay = max(result.retry_after or 0, backoff) * random.uniform(1.0, 1.25)  # jitter  # nosec B311
    due = now + timedelta(seconds=delay)
    return _ended(
        claim,
        message,
        RETRY,
        error=f"{result.detail}; throttled {len(times) + 1}×, next try {due:%Y-%m-%d %H:%M} UTC",
        due_at=due,
        next_attempt_at=due,
        attempts=max(0, message.attempts - 1),  # throttling is not the message's failure
        outcome=THROTTLED,
        **done,
    )


def _retry_later(engine, claim: Claim, message: Message, order: Order, reason, retry_after) -> str:
    """Something the message needs is not there yet (a plugin's ``RetryLater``).

    A visible ``retry`` whose reason says what is missing and when it is checked next; it
    counts as an attempt, so ``[dispatch] max_attempts`` ends it as ``failed`` (and the
    30-day completion veto ends it as skipped, whichever comes first).
    """
    if message.attempts >= engine.settings.get("dispatch", "max_attempts"):
        detail = f"gave up after {message.attempts} attempts: {reason.removeprefix('waiting: ')}"
        state = _ended(claim, message, FAILED, reason=detail, error=detail)
    else:
        delay = timedelta(seconds=retry_after) if retry_after else RECHECK_WAITING
        due = utcnow() + delay
        detail = f"{reason}; next check {due:%Y-%m-%d %H:%M} UTC"
        state = _ended(claim, message, RETRY, reason=detail, due_at=due, next_attempt_at=due)
    if state != CLAIM_LOST:
        engine.notify_failed(message, order, detail)
    return state


def _fallback_to_review_request(engine, claim: Claim, message: Message, why: str) -> str:
    """Step policy "fall back to Request a Review" when no language variant fits."""
    names = [s.name for s in engine.senders.values() if s.review_request]
    target = "dry_run" if message.dry_run else (names[0] if names else "")
    if not target:
        reason = f"{why}; no Request-a-Review sender to fall back to"
        return _ended(claim, message, SKIPPED, reason=reason)
    return _ended(
        claim,
        message,
        SCHEDULED,
        reason=f"{why}; falling back to Request a Review",
        sender=target,
        review_request=True,
        due_at=utcnow(),
        attempts=max(0, message.attempts - 1),
    )


def recover_expired_leases(engine) -> int:
    """Return crashed workers' messages to a safe state; returns how many were touched.

    Each recovery is a compare-and-set on the stale claim's fence and its expired lease:
    a worker that renewed its lease, or a newer claim, makes it a no-op.
    """
    now = utcnow()
    touched = 0
    stale = Message.select(Message.id, Message.lease_owner, Message.claim_seq).where(
        (Message.state == SENDING) & (Message.lease_until < now)
    )
    for message_id, owner, seq in list(stale.tuples()):
        expired = _fence(Claim(message_id, owner, seq)) & (Message.lease_until < now)
        with write_transaction():
            started = (
                Attempt.select()
                .where((Attempt.message == message_id) & Attempt.finished_at.is_null())
                .exists()
            )
            if started:
                # The call may have gone out: never resend blindly. The fence is kept, so
                # a worker that is only slow can still record the channel's answer.
                changed = (
                    Message.update(
                        state=IN_DOUBT,
                        lease_until=None,
                        updated_at=now,
                        error="worker stopped during the send; it may or may not have gone out",
                    )
                    .where(expired)
                    .execute()
                )
                if changed:
                    Attempt.update(finished_at=now, outcome=IN_DOUBT, detail="lease expired").where(
                        (Attempt.message == message_id) & Attempt.finished_at.is_null()
                    ).execute()
            else:
                changed = (
                    Message.update(
                        state=SCHEDULED,
                        lease_until=None,
                        lease_owner="",
                        updated_at=now,
                        attempts=Message.attempts - 1,
                    )
                    .where(expired)
                    .execute()
                )
        touched += changed
    return touched + reconcile_in_doubt(engine)


def reconcile_in_doubt(engine) -> int:
    """Ask senders about in-doubt messages; a proven non-send is retried once.

    A message that recovery put in doubt is asked about only after a full lease: a
    slow worker still waiting for the channel's answer records it itself, and asking
    before it lands could be misread as "not sent". One the worker itself recorded as
    in doubt (the channel timed out) is asked at once.
    """
    resolved = 0
    settled_before = utcnow() - timedelta(seconds=engine.settings.get("dispatch", "lease_seconds"))
    for message in Message.select().where(
        (Message.state == IN_DOUBT)
        & (Message.reason != "reconciled: retried once")
        # recovery keeps the fence (lease_owner) on what it put in doubt
        & ((Message.lease_owner == "") | (Message.updated_at <= settled_before))
    ):
        sender = engine.senders.get(message.sender)
        if sender is None or sender.reconcile is None:
            continue
        order = Order.get_by_id(message.order_id)
        try:
            verdict = sender.reconcile(engine, message, order)
        except Exception:  # noqa: BLE001 - leave it in doubt for a person
            log.exception("reconcile failed for message %s", message.id)
            continue
        if verdict == "sent":
            resolved += _finish(
                None,
                message,
                SENT,
                reason="reconciled: the channel confirms it was sent",
                sent_at=utcnow(),
            )
        elif verdict == "not_sent":
            resolved += _finish(
                None, message, SCHEDULED, reason="reconciled: retried once", due_at=utcnow()
            )
    return resolved


def _internal_error(claim: Claim, exc: Exception) -> str:
    """A bug or an unexpected plugin error while processing: in doubt once the attempt
    was committed (it may have gone out), else failed with the error, for a person."""
    message = Message.get_or_none(Message.id == claim.message_id)
    if message is None or message.state != SENDING or message.claim_seq != claim.seq:
        return message.state if message is not None else CLAIM_LOST
    started = (
        Attempt.select()
        .where((Attempt.message == claim.message_id) & Attempt.finished_at.is_null())
        .exists()
    )
    state = IN_DOUBT if started else FAILED
    return _ended(claim, message, state, error=f"internal error: {type(exc).__name__}: {exc}")


def _fresh(engine, claims: list[Claim], fresh_for: float, result: DispatchResult):
    """The batch's messages, each handed out with a copy younger than ``fresh_for``.

    When the copy gets older (a slow batch, a busy machine), the rest of the batch has
    its leases renewed (proving the claims still hold; a lost one is counted and
    dropped) and is read again, each in one go: vetoes judge an order cancelled or
    opted out meanwhile on what is true now, and the lease never runs low under a
    live worker, for a few queries per ``fresh_for`` seconds, not per message."""
    pending, loaded_at, index = load_claimed(claims), time.monotonic(), 0
    while index < len(pending):
        # Never before the first message of a copy: a read slower than ``fresh_for`` (a
        # loaded machine, a short lease) must still make progress, not read forever.
        if index and time.monotonic() - loaded_at >= fresh_for:
            rest = [loaded[0] for loaded in pending[index:]]
            held = renew_all(engine, rest)
            for lost in set(rest) - set(held):
                log.info("message %s: claim lost before it was processed", lost.message_id)
                result.count(CLAIM_LOST)
            pending, loaded_at, index = load_claimed(held), time.monotonic(), 0
            continue
        yield pending[index]
        index += 1


def dispatch_due(engine, *, limit: int | None = None, budget_seconds: float | None = None):
    """Recover leases, then claim and send due messages until none are left.

    A pass drains: it claims batch after batch while due messages remain, so a backlog
    is not held back to one batch count a minute. ``budget_seconds`` bounds it (the
    periodic tick passes about a minute, so its pass ends as the next tick starts the
    next one and a worker thread is never taken for good); ``result.more`` then says
    messages may remain. A message handled in this pass and due again at once (a
    fallback, a zero re-check) is handled again, but a round claiming only such messages
    ends the pass, so no pass spins on the same messages.
    """
    result = DispatchResult()
    result.recovered = recover_expired_leases(engine)
    owner = worker_id()
    batch = limit or engine.settings.get("dispatch", "batch_size")
    fresh_for = min(FRESH_SECONDS, engine.settings.get("dispatch", "lease_seconds") / 3)
    deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
    again: set[int] = set()  # handled in this pass and put back as due (scheduled, retry)
    while True:
        if deadline is not None and time.monotonic() >= deadline:
            result.more = True
            break
        claims = claim(engine, owner, batch)
        if not claims:
            break
        result.claimed += len(claims)
        returning: set[int] = set()
        for loaded in _fresh(engine, claims, fresh_for, result):
            try:
                state = process(engine, loaded[0], loaded)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
                log.exception("dispatch failed for message %s", loaded[0].message_id)
                state = _internal_error(loaded[0], exc)
            result.count(state)
            if state in (SCHEDULED, RETRY):
                returning.add(loaded[0].message_id)
        if {c.message_id for c in claims} <= again:
            result.more = True
            break
        again |= returning
    return result
