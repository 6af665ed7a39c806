"""Planning: order events x active campaign steps -> messages with due times.

For each (order, step) pair the outcome is exactly one of:

* a ``Message`` row (UNIQUE(order, step): planning twice can never create two), or
* a ``Decision`` saying why not yet / not at all ("waiting: delivery date unknown",
  "rule: SKU not in campaign", "excluded: refunded on 2026-11-03").

Planning is idempotent and incremental: callers pass the ids of orders that changed.
A message already past ``scheduled`` is never touched again by planning.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from .clock import utcnow
from .contracts import (
    CANCELLED,
    FAILED,
    IN_DOUBT,
    SCHEDULED,
    SENDING_STATUSES,
    SENT,
    SKIPPED,
    is_review_request,
)
from .db import database
from .decide import ERROR, EXCLUDED, PLAN, SEND, check_rules, decide, effective_sender, is_dry_run
from .due import due_time, fit_send_window, send_days
from .live import is_live
from .models import Campaign, Decision, Message, Order, OrderEvent, SellerAccount, Step

# Re-exported for the modules that plan: the decision and the due time live in
# ``core.decide`` and ``core.due``.
__all__ = [
    "check_rules",
    "due_time",
    "effective_sender",
    "fit_send_window",
    "is_dry_run",
    "is_review_request",
    "send_days",
]

log = logging.getLogger(__name__)


@dataclass
class PlanResult:
    planned: int = 0
    updated: int = 0
    waiting: int = 0
    excluded: int = 0
    errors: int = 0  # pairs of a broken step (a bad rule value): the decision says what


def active_steps() -> list[Step]:
    """Steps of campaigns that plan messages (active, or test = dry run only)."""
    return list(
        Step.select(Step, Campaign)
        .join(Campaign)
        .where(Campaign.status.in_(SENDING_STATUSES))
        .order_by(Campaign.id, Step.position)
    )


def pick_ab_arm(order: Order, step: Step) -> str:
    """The step's A/B arm for the order (its label, "holdout" or "" without a test):
    deterministic per (order, step), so re-planning never moves an order to another arm."""
    variants = step.variants or []
    if not variants and not step.holdout_percent:
        return ""
    digest = hashlib.sha256(f"{order.order_id}:{step.id}".encode()).digest()
    roll = int.from_bytes(digest[:4], "big") % 10000 / 100
    if roll < step.holdout_percent:
        return "holdout"
    if not variants:
        return ""
    total = sum(max(0, int(v.get("weight", 1))) for v in variants) or 1
    point = int.from_bytes(digest[4:8], "big") % total
    for index, variant in enumerate(variants):
        point -= max(0, int(variant.get("weight", 1)))
        if point < 0:
            return variant.get("label") or chr(ord("A") + index)
    return "A"


def message_values(engine, order, step, due) -> dict:
    """The fields of ``step``'s message for ``order`` that planning may refresh: when it
    is due, its priority, and the sender (test mode's dry run, a review request)."""
    sender = effective_sender(engine, step, order)
    return dict(
        due_at=due,
        priority=step.priority,
        sender=sender,
        dry_run=is_dry_run(engine, sender),
        review_request=is_review_request(engine, step),
    )


def insert_message(order, step, values: dict) -> None:
    """Schedule ``step``'s message for ``order`` unless one exists (the unique (order,
    step) index keeps a step to one message per order, whoever inserts first)."""
    Message.insert(
        order=order,
        step=step,
        campaign=step.campaign_id,
        account=order.account_id,
        state=SCHEDULED,
        variant=pick_ab_arm(order, step),
        **values,
    ).on_conflict_ignore().execute()


def record_decision(order: Order, step: Step, outcome: str, reason: str, by: str = "") -> None:
    """Keep the latest decision for (order, step): the order trace's "why" for the step."""
    Decision.insert(
        order=order, step=step, outcome=outcome, reason=reason, decided_by=by, decided_at=utcnow()
    ).on_conflict(
        conflict_target=[Decision.order, Decision.step],
        update={
            Decision.outcome: outcome,
            Decision.reason: reason,
            Decision.decided_by: by,
            Decision.decided_at: utcnow(),
        },
    ).execute()


# The columns planning needs of an existing message: narrow selects keep planning cheap.
_MESSAGE_FIELDS = (
    Message.id,
    Message.order,
    Message.step,
    Message.state,
    Message.due_at,
    Message.priority,
    Message.sender,
    Message.dry_run,
    Message.review_request,
)


def plan_order(engine, order: Order, steps: Iterable[Step], result: PlanResult, existing=None):
    """Plan one order against ``steps``; ``existing`` maps step id -> its message, if known."""
    if existing is None:
        existing = {
            m.step_id: m for m in Message.select(*_MESSAGE_FIELDS).where(Message.order == order.id)
        }
    events = order.event_times()
    for step in steps:
        campaign = step.campaign
        if campaign.account_id and campaign.account_id != order.account_id:
            continue
        with database.atomic():
            _plan_pair(engine, order, step, events, result, existing.get(step.id))


def _preload(orders: list[Order]) -> dict[int, dict[int, Message]]:
    """Events and existing messages of a chunk of orders in two queries, not 2 per order."""
    ids = [o.id for o in orders]
    events: dict[int, dict] = {i: {} for i in ids}
    rows = OrderEvent.select(OrderEvent.order, OrderEvent.kind, OrderEvent.occurred_at).where(
        OrderEvent.order.in_(ids)
    )
    for order_id, kind, when in rows.tuples():
        events[order_id][kind] = when
    for order in orders:
        order.__dict__["_event_times"] = events[order.id]
    messages: dict[int, dict[int, Message]] = {i: {} for i in ids}
    for m in Message.select(*_MESSAGE_FIELDS).where(Message.order.in_(ids)):
        messages[m.order_id][m.step_id] = m
    return messages


def _plan_pair(engine, order: Order, step: Step, events, result: PlanResult, existing) -> None:
    if existing is not None and existing.state != SCHEDULED:
        live = not is_dry_run(engine, effective_sender(engine, step, order))
        if not (existing.dry_run and live and release_dry_runs(engine, step, existing.id)):
            return  # already in flight or final: planning never rewrites history
        existing = None
    verdict = decide(engine, order, step, mode=PLAN)
    if verdict.outcome in (EXCLUDED, ERROR):
        record_decision(order, step, verdict.outcome, verdict.reason, verdict.by)
        if verdict.outcome == ERROR:
            # The step is broken, not the order: its message (if any) stays scheduled and
            # the dispatcher reports the same error on it; the seller fixes the step.
            result.errors += 1
            return
        if existing is not None:
            Message.update(state=CANCELLED, reason=verdict.reason, updated_at=utcnow()).where(
                (Message.id == existing.id) & (Message.state == SCHEDULED)
            ).execute()
        result.excluded += 1
        return
    if verdict.outcome != SEND:
        record_decision(order, step, "waiting", verdict.reason, verdict.by)
        result.waiting += 1
        return
    due, why, by = verdict.due_at, verdict.reason, verdict.by
    values = {**message_values(engine, order, step, due), "updated_at": utcnow()}
    if existing is None:
        insert_message(order, step, values)
        result.planned += 1
    elif any(getattr(existing, k) != v for k, v in values.items() if k != "updated_at"):
        Message.update(**values).where(
            (Message.id == existing.id) & (Message.state == SCHEDULED)
        ).execute()
        result.updated += 1
    record_decision(order, step, "planned", f"planned for {due:%Y-%m-%d %H:%M} UTC: {why}", by)


# A dry run's finished message, kept in the outbox as the seller's test record. (A
# cancelled one is not released: it was withdrawn, as a live one would have been.)
DRY_RUN_DONE = (SENT, SKIPPED, FAILED, IN_DOUBT)


def release_dry_runs(engine, step: Step, message_id: int | None = None) -> int:
    """Finished dry-run messages give their (order, step) slot back once the step sends
    for real (the campaign left test status, or test mode was switched off); returns how
    many were released. ``message_id``: only that one (the per-order planner and "send
    now"); without it, every order of the step at once (the set-based re-plan).

    A test send reaches no buyer, so it must not use up the step: the dry-run row stays
    in the outbox, detached from the step, and the live message is planned beside it.
    """
    if is_dry_run(engine, effective_sender(engine, step)):
        return 0
    which = Message.step == step.id if message_id is None else Message.id == message_id
    # Demo orders stay dry runs (core.decide.effective_sender): theirs are never released.
    demo = SellerAccount.select(SellerAccount.id).where(SellerAccount.is_demo == True)  # noqa: E712
    return (
        Message.update(step=None, updated_at=utcnow())
        .where(
            which
            & (Message.dry_run == True)  # noqa: E712 - peewee expression
            & Message.state.in_(DRY_RUN_DONE)
            & Message.account.not_in(demo)
        )
        .execute()
    )


def plan_orders(engine, order_ids: Iterable[int], chunk: int = 500) -> PlanResult:
    """Plan the given orders against every active step (cost ~ number of orders)."""
    steps = active_steps()
    result = PlanResult()
    ids = list(order_ids)
    if not steps:
        return result
    for start in range(0, len(ids), chunk):
        orders = list(Order.select().where(Order.id.in_(ids[start : start + chunk])))
        messages = _preload(orders)
        for order in orders:
            plan_order(engine, order, steps, result, messages[order.id])
    return result


def plan_all(
    engine, account_id: int | None = None, chunk: int = 1000, steps: list[Step] | None = None
) -> PlanResult:
    """Re-plan every live order (after a campaign was created or edited), against
    ``steps`` (default: every active step). Orders that can only be excluded (history,
    ``core.live``) keep the decisions they have."""
    steps = (
        active_steps()
        if steps is None
        else [s for s in steps if s.campaign.status in SENDING_STATUSES]
    )
    result = PlanResult()
    if not steps:
        return result
    live = is_live(Order, utcnow(), steps)
    last = 0
    while True:
        query = Order.select().where((Order.id > last) & live)
        if account_id:
            query = query.where(Order.account == account_id)
        batch = list(query.order_by(Order.id).limit(chunk))
        if not batch:
            return result
        messages = _preload(batch)
        for order in batch:
            plan_order(engine, order, steps, result, messages[order.id])
        last = batch[-1].id
