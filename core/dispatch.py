"""Dispatch: due messages -> claim -> re-check -> compose -> preflight -> send -> record.

The application database is the source of truth; huey only says "dispatch now", and a
lost huey task costs nothing but a minute's delay. The promises, and how they are kept:

* Never twice: a message is claimed under a lease inside a write transaction
  (``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), and an
  ``Attempt`` row is committed *before* the sender is called. If the process dies after
  that commit, recovery finds an unfinished attempt and marks the message ``in_doubt``
  rather than sending again. Only a sender that can prove the message did not go out
  (``reconcile`` -> ``"not_sent"``) lets it be retried.
* Never lost: an expired lease with no unfinished attempt goes back to ``scheduled``.
* Always a reason: every path ends in a state with ``reason`` or ``error`` filled in.
"""

from __future__ import annotations

import logging
import os
import random
import socket
from dataclasses import dataclass, field, replace
from datetime import timedelta

from . import test_sends
from .clock import utcnow
from .compose import ComposeError, ComposeRetry, NoVariant, compose
from .contracts import (
    FAILED,
    IN_DOUBT,
    RETRY,
    SCHEDULED,
    SENDING,
    SENT,
    SKIPPED,
    SendResult,
)
from .db import database, is_sqlite, write_transaction
from .models import Attempt, Campaign, Message, Order, OrderEvent, SellerAccount, Step
from .planning import check_rules

log = logging.getLogger(__name__)

RECHECK_WAITING = timedelta(days=1)  # "not offered yet": ask again daily (DOMAIN.md §2.1)


@dataclass
class DispatchResult:
    claimed: int = 0
    states: dict[str, int] = field(default_factory=dict)
    recovered: int = 0

    def count(self, state: str) -> None:
        self.states[state] = self.states.get(state, 0) + 1


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.randrange(1 << 30)}"


def claim(engine, owner: str, limit: int) -> list[int]:
    """Reserve up to ``limit`` due messages for ``owner``; returns their ids."""
    now = utcnow()
    lease = now + timedelta(seconds=engine.settings.get("dispatch", "lease_seconds"))
    with write_transaction():
        query = (
            Message.select(Message.id)
            .join(Campaign, on=(Message.campaign == Campaign.id))
            .where(
                Message.state.in_([SCHEDULED, RETRY])
                & (Message.due_at <= now)
                & Campaign.status.in_(("active", "test"))
            )
            .order_by(Message.priority, Message.due_at, Message.id)
            .limit(limit)
        )
        if not is_sqlite():
            query = query.for_update("FOR UPDATE OF t1 SKIP LOCKED")
        ids = [m.id for m in query]
        if ids:
            Message.update(
                state=SENDING,
                lease_until=lease,
                lease_owner=owner,
                attempts=Message.attempts + 1,
                updated_at=now,
            ).where(Message.id.in_(ids) & Message.state.in_([SCHEDULED, RETRY])).execute()
    return ids


def _finish(message: Message, state: str, *, reason: str = "", error: str = "", **extra) -> None:
    """Record a message's new state, releasing its lease, and close its open attempt."""
    now = utcnow()
    values = dict(state=state, lease_until=None, lease_owner="", updated_at=now, **extra)
    if reason:
        values["reason"] = reason
    if error:
        values["error"] = error
    with database.atomic():
        Message.update(**values).where(Message.id == message.id).execute()
        Attempt.update(finished_at=now, outcome=state, detail=error or reason).where(
            (Attempt.message == message.id) & Attempt.finished_at.is_null()
        ).execute()
    for key, value in values.items():
        setattr(message, key, value)


def _postpone(message: Message, reason: str) -> None:
    now = utcnow()
    if reason.startswith("waiting: daily message limit"):
        # Amazon's limit is per day: try again as the next day starts, in priority order.
        due = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    else:
        due = now + RECHECK_WAITING
    _finish(
        message,
        SCHEDULED,
        reason=reason,
        due_at=due,
        attempts=max(0, message.attempts - 1),  # waiting is not a failed attempt
    )


def _not_now(message: Message, reason: str) -> str:
    """A sender said no: "waiting: ..." postpones, anything else skips."""
    if reason.startswith("waiting:"):
        _postpone(message, reason)
        return SCHEDULED
    _finish(message, SKIPPED, reason=reason)
    return SKIPPED


def _split(reasons: list[str]) -> tuple[list[str], list[str]]:
    waiting = [r for r in reasons if r.startswith("waiting:")]
    return waiting, [r for r in reasons if not r.startswith("waiting:")]


def load_claimed(ids: list[int]) -> list[tuple[Message, Order, Step | None]]:
    """The claimed messages with their orders, steps and order events, in few queries.

    Loaded after the claim committed, so rules and vetoes run on what is true now.
    """
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
    accounts = {
        a.id: a
        for a in SellerAccount.select().where(
            SellerAccount.id.in_({o.account_id for o in orders.values()})
        )
    }
    for order in orders.values():
        order.account = accounts[order.account_id]
    for m in messages:
        m.order = orders[m.order_id]
        if m.step_id in steps:
            m.step = steps[m.step_id]
    by_id = {m.id: m for m in messages}
    return [
        (by_id[i], orders[by_id[i].order_id], steps.get(by_id[i].step_id))
        for i in ids
        if i in by_id
    ]


def process(engine, message_id: int, loaded=None) -> str:
    """Send one claimed message; returns its new state."""
    message, order, step = loaded or load_claimed([message_id])[0]
    if message.state != SENDING:
        return message.state
    if step is None:
        _finish(message, SKIPPED, reason="skipped: its campaign step was deleted")
        return SKIPPED
    failed = check_rules(engine, order, step)
    if failed:
        _finish(message, SKIPPED, reason=failed[0])
        return SKIPPED
    waiting, hard = _split(engine.vetoes(message, order))
    if hard:
        _finish(message, SKIPPED, reason=hard[0])
        return SKIPPED
    if waiting:
        _postpone(message, waiting[0])
        return SCHEDULED
    if message.variant == "holdout":
        _finish(message, SKIPPED, reason="skipped: A/B holdout group receives nothing")
        return SKIPPED
    sender = engine.sender(message.sender)
    if sender.prepare is not None:
        reason = sender.prepare(engine, message, order)
        if reason:
            return _not_now(message, reason)
    try:
        composed = compose(engine, order, step, message)
    except ComposeRetry as exc:
        return _retry_later(engine, message, order, exc.reason, exc.retry_after)
    except NoVariant as exc:
        if step.no_variant_policy == "review_request" and not message.review_request:
            return _fallback_to_review_request(engine, message, order, exc.reason)
        _finish(message, SKIPPED, reason=exc.reason)
        return SKIPPED
    except ComposeError as exc:
        _finish(message, SKIPPED, reason=exc.reason)
        return SKIPPED
    if sender.preflight is not None:
        reason = sender.preflight(engine, message, order)
        if reason:
            return _not_now(message, reason)
    rendered = composed.rendered
    with database.atomic():
        Message.update(
            subject=rendered.subject,
            body=rendered.text,
            language=rendered.language,
            template_version=composed.version,
        ).where(Message.id == message.id).execute()
        Attempt.create(message=message.id)  # committed before the call: see module doc
    try:
        result = sender.send(engine, message, order, rendered)
    except Exception as exc:  # noqa: BLE001 - we cannot know whether it went out
        log.exception("sender %s raised for message %s", sender.name, message.id)
        result = SendResult(IN_DOUBT, f"sender raised {type(exc).__name__}: {exc}")
    if result.status == SENT and sender.dry_run and step.campaign.status == "test":
        # A test campaign reaches no buyer; the seller reads each message in their own
        # inbox instead (issue 4 §1). The copy never changes the message's outcome.
        note = test_sends.copy_note(engine, order.account, rendered, order.marketplace)
        result = replace(result, detail=f"{result.detail}; {note}")
    return record(engine, message, order, result)


def record(engine, message: Message, order: Order, result: SendResult) -> str:
    """Store a sender's answer as the message's new state."""
    max_attempts = engine.settings.get("dispatch", "max_attempts")
    if result.status == SENT:
        _finish(
            message, SENT, reason=result.detail, sent_at=utcnow(), external_id=result.external_id
        )
        engine.notify_sent(message, order, result)
        return SENT
    if result.status == SKIPPED:
        _finish(message, SKIPPED, reason=result.detail)
        return SKIPPED
    if result.status == RETRY and message.attempts < max_attempts:
        delay = result.retry_after or min(3600, 60 * 2**message.attempts)
        delay *= random.uniform(1.0, 1.25)  # jitter: retries of a burst do not align
        _finish(message, RETRY, error=result.detail, due_at=utcnow() + timedelta(seconds=delay))
        engine.notify_failed(message, order, result.detail)
        return RETRY
    if result.status == IN_DOUBT:
        _finish(message, IN_DOUBT, error=result.detail)
        engine.notify_failed(message, order, result.detail)
        return IN_DOUBT
    detail = result.detail
    if result.status == RETRY:
        detail = f"gave up after {message.attempts} attempts: {detail}"
    _finish(message, FAILED, error=detail)
    engine.notify_failed(message, order, detail)
    return FAILED


def _retry_later(engine, message: Message, order: Order, reason: str, retry_after) -> str:
    """Something the message needs is not there yet (a plugin's ``RetryLater``).

    A visible ``retry`` whose reason says what is missing and when it is checked next; it
    counts as an attempt, so ``[dispatch] max_attempts`` ends it as ``failed`` (and the
    30-day completion veto ends it as skipped, whichever comes first).
    """
    if message.attempts >= engine.settings.get("dispatch", "max_attempts"):
        detail = f"gave up after {message.attempts} attempts: {reason.removeprefix('waiting: ')}"
        _finish(message, FAILED, reason=detail, error=detail)
        engine.notify_failed(message, order, detail)
        return FAILED
    delay = timedelta(seconds=retry_after) if retry_after else RECHECK_WAITING
    due = utcnow() + delay
    detail = f"{reason}; next check {due:%Y-%m-%d %H:%M} UTC"
    _finish(message, RETRY, reason=detail, due_at=due, next_attempt_at=due)
    engine.notify_failed(message, order, detail)
    return RETRY


def _fallback_to_review_request(engine, message: Message, order: Order, why: str) -> str:
    """Step policy "fall back to Request a Review" when no language variant fits."""
    names = [s.name for s in engine.senders.values() if s.review_request]
    target = "dry_run" if message.dry_run else (names[0] if names else "")
    if not target:
        _finish(message, SKIPPED, reason=f"{why}; no Request-a-Review sender to fall back to")
        return SKIPPED
    _finish(
        message,
        SCHEDULED,
        reason=f"{why}; falling back to Request a Review",
        sender=target,
        review_request=True,
        due_at=utcnow(),
        attempts=max(0, message.attempts - 1),
    )
    return SCHEDULED


def recover_expired_leases(engine) -> int:
    """Return crashed workers' messages to a safe state; returns how many were touched."""
    now = utcnow()
    touched = 0
    expired = list(Message.select().where((Message.state == SENDING) & (Message.lease_until < now)))
    for message in expired:
        started = (
            Attempt.select()
            .where((Attempt.message == message.id) & Attempt.finished_at.is_null())
            .exists()
        )
        with write_transaction():
            if started:
                # The call may have gone out: never resend blindly.
                Message.update(
                    state=IN_DOUBT,
                    lease_until=None,
                    error="worker stopped during the send; it may or may not have gone out",
                ).where((Message.id == message.id) & (Message.state == SENDING)).execute()
                Attempt.update(finished_at=now, outcome=IN_DOUBT, detail="lease expired").where(
                    (Attempt.message == message.id) & Attempt.finished_at.is_null()
                ).execute()
            else:
                Message.update(
                    state=SCHEDULED,
                    lease_until=None,
                    lease_owner="",
                    attempts=Message.attempts - 1,
                ).where((Message.id == message.id) & (Message.state == SENDING)).execute()
        touched += 1
    return touched + reconcile_in_doubt(engine)


def reconcile_in_doubt(engine) -> int:
    """Ask senders about in-doubt messages; a proven non-send is retried once."""
    resolved = 0
    for message in Message.select().where(
        (Message.state == IN_DOUBT) & (Message.reason != "reconciled: retried once")
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
            _finish(
                message,
                SENT,
                reason="reconciled: the channel confirms it was sent",
                sent_at=utcnow(),
            )
            resolved += 1
        elif verdict == "not_sent":
            _finish(
                message,
                SCHEDULED,
                reason="reconciled: retried once",
                due_at=utcnow(),
            )
            resolved += 1
    return resolved


def dispatch_due(engine, *, limit: int | None = None, rounds: int = 100) -> DispatchResult:
    """Recover leases, then claim and send due messages until none are left."""
    result = DispatchResult()
    result.recovered = recover_expired_leases(engine)
    owner = worker_id()
    batch = limit or engine.settings.get("dispatch", "batch_size")
    for _ in range(rounds):
        ids = claim(engine, owner, batch)
        if not ids:
            break
        result.claimed += len(ids)
        for loaded in load_claimed(ids):
            message_id = loaded[0].id
            try:
                state = process(engine, message_id, loaded)
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the rest
                log.exception("dispatch failed for message %s", message_id)
                message = Message.get_by_id(message_id)
                if message.state != SENDING:
                    result.count(message.state)  # recorded before the error: keep it
                    continue
                started = (
                    Attempt.select()
                    .where((Attempt.message == message_id) & Attempt.finished_at.is_null())
                    .exists()
                )
                state = IN_DOUBT if started else FAILED
                _finish(message, state, error=f"internal error: {type(exc).__name__}: {exc}")
            result.count(state)
    return result
