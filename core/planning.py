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
from datetime import datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays as holidays_lib

from .clock import utcnow
from .contracts import SCHEDULED, is_review_request  # re-exported: planning uses it too
from .db import database
from .models import Campaign, Decision, Message, Order, OrderEvent, Step

log = logging.getLogger(__name__)

ACTIVE = ("active", "test")
MAX_WINDOW_SEARCH_DAYS = 21


@dataclass
class PlanResult:
    planned: int = 0
    updated: int = 0
    waiting: int = 0
    excluded: int = 0


def active_steps() -> list[Step]:
    """Steps of campaigns that plan messages (active, or test = dry run only)."""
    return list(
        Step.select(Step, Campaign)
        .join(Campaign)
        .where(Campaign.status.in_(ACTIVE))
        .order_by(Campaign.id, Step.position)
    )


@lru_cache(maxsize=64)
def _holidays(country: str):
    try:
        return holidays_lib.country_holidays(country)
    except NotImplementedError:
        return {}


def send_days(step: Step) -> set[int]:
    """The weekdays (Monday = 0) a step may send on; none stored means every day."""
    return {int(d) for d in step.weekdays if d.isdigit()} or set(range(7))


def fit_send_window(due: datetime, step: Step, timezone: str, country: str) -> datetime:
    """Move a naive-UTC due time to the first moment inside the step's send window.

    The window is in the buyer's marketplace time zone (a 9:00 send in Tokyo is not a
    9:00 send in New York), on allowed weekdays, skipping that country's public holidays
    when the step asks.
    """
    tz = ZoneInfo(timezone)
    local = due.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    start, end = step.window_start_hour, step.window_end_hour
    days = send_days(step)
    hols = _holidays(country) if step.skip_holidays and country else {}
    for _ in range(MAX_WINDOW_SEARCH_DAYS):
        ok_day = local.weekday() in days and local.date() not in hols
        if ok_day and start <= local.hour < end:
            break
        if ok_day and local.hour < start:
            local = local.replace(hour=start, minute=0, second=0, microsecond=0)
            break
        local = (local + timedelta(days=1)).replace(hour=start, minute=0, second=0, microsecond=0)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def pick_variant(order: Order, step: Step) -> str:
    """A/B assignment: deterministic per (order, step), with an optional holdout."""
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


def _decide(order: Order, step: Step, outcome: str, reason: str, by: str = "") -> None:
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


def effective_sender(engine, step: Step) -> str:
    """Test campaigns and test mode send through the dry-run sender only."""
    if step.campaign.status == "test" or engine.settings.get("app", "test_mode"):
        return "dry_run"
    return step.sender


def is_dry_run(engine, sender: str) -> bool:
    """Whether ``sender`` only records (an unknown sender is not: it fails visibly later)."""
    found = engine.senders.get(sender)
    return bool(found and found.dry_run)


def check_rules(engine, order: Order, step: Step) -> tuple[str, str] | None:
    """(reason, rule name) of the first rule the order fails, or None."""
    for row in step.rules or []:
        rule = engine.rules.get(row.get("rule"))
        if rule is None:
            return f"rule: unknown rule {row.get('rule')!r} (plugin disabled?)", "core"
        reason = rule.check(engine, order, row.get("params") or {})
        if reason:
            return reason, rule.name
    return None


def due_time(engine, order: Order, step: Step, events) -> tuple[datetime | None, str, str]:
    """(due_at, explanation, decided_by) or (None, waiting reason, decided_by)."""
    trigger = engine.triggers.get(step.trigger)
    if trigger is None:
        return None, f"waiting: trigger {step.trigger!r} is not available", "core"
    anchor = trigger.anchor(engine, order, events)
    if anchor is None:
        return None, trigger.waiting_reason, "trigger"
    why = f"{step.trigger} {anchor:%Y-%m-%d %H:%M}"
    by = "core"
    if step.anchor == "review_window":
        window = engine.review_window(order)
        if window is None:
            return None, "waiting: delivery date unknown, review window not known", "core"
        anchor = max(anchor, window.opens)
        why = f"review window opens {window.opens:%Y-%m-%d} ({window.source})"
        by = window.source
    delay = timedelta(days=step.delay_days, hours=step.delay_hours)
    mkt = engine.marketplace(order.marketplace)
    due = fit_send_window(
        anchor + delay, step, mkt.timezone if mkt else "UTC", mkt.country if mkt else ""
    )
    adjusted = engine.adjust_send_time(order, step, due)
    if adjusted:
        due, note = adjusted
        why = f"{why}; {note}"
    if step.delay_days or step.delay_hours:
        why = f"{why} + {step.delay_days}d {step.delay_hours}h"
    return due, why, by


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
        return  # already in flight or final: planning never rewrites history
    failed = check_rules(engine, order, step)
    if failed is None:
        probe = Message(
            order=order,
            step=step,
            account=order.account_id,
            sender=effective_sender(engine, step),
            state=SCHEDULED,
            review_request=is_review_request(engine, step),
            dry_run=effective_sender(engine, step) == "dry_run",
        )
        hard = [r for r in engine.vetoes(probe, order) if not r.startswith("waiting:")]
        if hard:
            failed = (hard[0], "veto")
    if failed is not None:
        reason, by = failed
        _decide(order, step, "excluded", reason, by)
        if existing is not None:
            Message.update(state="cancelled", reason=reason, updated_at=utcnow()).where(
                Message.id == existing.id
            ).execute()
        result.excluded += 1
        return
    due, why, by = due_time(engine, order, step, events)
    if due is None:
        _decide(order, step, "waiting", why, by)
        result.waiting += 1
        return
    sender = effective_sender(engine, step)
    values = dict(
        due_at=due,
        priority=step.priority,
        sender=sender,
        dry_run=is_dry_run(engine, sender),
        review_request=is_review_request(engine, step),
        updated_at=utcnow(),
    )
    if existing is None:
        Message.insert(
            order=order,
            step=step,
            campaign=step.campaign_id,
            account=order.account_id,
            state=SCHEDULED,
            variant=pick_variant(order, step),
            **values,
        ).on_conflict_ignore().execute()
        result.planned += 1
    elif any(getattr(existing, k) != v for k, v in values.items() if k != "updated_at"):
        Message.update(**values).where(
            (Message.id == existing.id) & (Message.state == SCHEDULED)
        ).execute()
        result.updated += 1
    _decide(order, step, "planned", f"planned for {due:%Y-%m-%d %H:%M} UTC: {why}", by)


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
    """Re-plan every order (after a campaign was created or edited), against ``steps``
    (default: every active step)."""
    steps = active_steps() if steps is None else [s for s in steps if s.campaign.status in ACTIVE]
    result = PlanResult()
    if not steps:
        return result
    last = 0
    while True:
        query = Order.select().where(Order.id > last)
        if account_id:
            query = query.where(Order.account == account_id)
        batch = list(query.order_by(Order.id).limit(chunk))
        if not batch:
            return result
        messages = _preload(batch)
        for order in batch:
            plan_order(engine, order, steps, result, messages[order.id])
        last = batch[-1].id
