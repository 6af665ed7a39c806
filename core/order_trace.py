"""An order's whole trace as plain data: what the order page and ``followup trace`` show.

One read model for both, so the page and the command cannot tell a seller different
stories: the order's facts, its items and timeline, every campaign step that looked at
it with the plain reason and who decided, each message with its state, plain reason,
error and attempts, and the one-line summary on top. Times stay in UTC here; the
caller shows them in ``tz``, the seller's time zone the summary was written in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from .contracts import DeliveryWindow, TimeWindow
from .feedback import for_order as feedback_for_order
from .feedback import kind as feedback_kind
from .models import (
    Attempt,
    Decision,
    Message,
    OptOut,
    Order,
    OrderEvent,
    OrderItem,
    Step,
)
from .planning import active_steps
from .trace import plain_by, plain_reason, summary

# A message's state as the seller reads it.
STATE_LABELS = {
    "scheduled": "Scheduled",
    "sending": "Sending",
    "sent": "Sent",
    "skipped": "Skipped",
    "failed": "Failed",
    "retry": "Will retry",
    "in_doubt": "In doubt",
    "cancelled": "Cancelled",
}


def state_label(state: str) -> str:
    """``in_doubt`` -> "In doubt"; an unknown state as it is."""
    return STATE_LABELS.get(state, state)


@dataclass(frozen=True)
class OrderFacts:
    """The order's own facts, as the top of the page lists them."""

    id: int  # the database row, for links and actions
    order_id: str  # Amazon's id
    account: str
    is_demo: bool
    marketplace: str
    marketplace_name: str
    marketplace_timezone: str
    fulfillment: str
    status: str
    purchased_at: datetime
    buyer_locale: str
    total: float
    currency: str
    messages_stopped: bool
    has_buyer: bool  # a buyer identity is known, so the buyer can be blocked


@dataclass(frozen=True)
class TraceItem:
    quantity: int
    title: str
    sku: str
    asin: str


@dataclass(frozen=True)
class TraceEvent:
    kind: str
    occurred_at: datetime
    source: str


@dataclass(frozen=True)
class TraceDecision:
    step: str  # "campaign / step"
    outcome: str  # planned, waiting, excluded
    reason: str  # in plain words
    decided_by: str  # in plain words, "" when not recorded
    decided_at: datetime


@dataclass(frozen=True)
class TraceAttempt:
    started_at: datetime
    outcome: str  # "" while running
    detail: str


@dataclass(frozen=True)
class TraceMessage:
    id: int
    state: str
    state_label: str
    review_request: bool
    dry_run: bool
    sender: str
    due_at: datetime
    sent_at: datetime | None
    reason: str  # in plain words
    error: str
    language: str
    subject: str
    body: str
    attempts: tuple[TraceAttempt, ...] = ()


@dataclass(frozen=True)
class TraceFeedback:
    rating: int
    kind: str  # negative, neutral, positive
    left_at: datetime
    comments: str


@dataclass(frozen=True)
class TraceBlock:
    reason: str
    expires_at: datetime | None


@dataclass(frozen=True)
class SendableStep:
    """A campaign step "Send now" may send for this order, and its message's state."""

    step_id: int
    label: str
    message_state: str  # "" when no message was planned


@dataclass(frozen=True)
class OrderTrace:
    """Everything the order page shows; times in UTC, ``tz`` the zone to show them in."""

    order: OrderFacts
    tz: ZoneInfo
    summary: str
    delivery: DeliveryWindow | None
    review_window: TimeWindow | None
    feedback: TraceFeedback | None
    blocked: TraceBlock | None
    items: tuple[TraceItem, ...] = ()
    events: tuple[TraceEvent, ...] = ()
    decisions: tuple[TraceDecision, ...] = ()
    messages: tuple[TraceMessage, ...] = ()
    sendable: tuple[SendableStep, ...] = ()


def step_label(step: Step) -> str:
    """ "campaign / step" (the trigger when the step has no name)."""
    return f"{step.campaign.name} / {step.name or step.trigger}"


def _attempts(messages) -> dict[int, list[TraceAttempt]]:
    found: dict[int, list[TraceAttempt]] = {}
    rows = (
        Attempt.select()
        .where(Attempt.message.in_([m.id for m in messages]))
        .order_by(Attempt.started_at)
    )
    for a in rows:
        found.setdefault(a.message_id, []).append(TraceAttempt(a.started_at, a.outcome, a.detail))
    return found


def _blocked(order: Order) -> TraceBlock | None:
    if not order.buyer_key:
        return None
    entry = (
        OptOut.select()
        .where((OptOut.buyer_key == order.buyer_key) & (OptOut.kind == "blocklist"))
        .first()
    )
    return TraceBlock(entry.reason, entry.expires_at) if entry else None


def _feedback(order: Order) -> TraceFeedback | None:
    row = feedback_for_order(order)
    if row is None:
        return None
    return TraceFeedback(row.rating, feedback_kind(row.rating), row.left_at, row.comments or "")


def _facts(engine, order: Order) -> OrderFacts:
    market = engine.marketplace(order.marketplace)
    return OrderFacts(
        id=order.id,
        order_id=order.order_id,
        account=order.account.name,
        is_demo=order.is_demo,
        marketplace=order.marketplace,
        marketplace_name=market.name if market else "",
        marketplace_timezone=market.timezone if market else "",
        fulfillment=order.fulfillment,
        status=order.status,
        purchased_at=order.purchased_at,
        buyer_locale=order.buyer_locale or "",
        total=order.total,
        currency=order.currency,
        messages_stopped=order.messages_stopped,
        has_buyer=bool(order.buyer_key),
    )


def trace_order(engine, order: Order, tz: ZoneInfo) -> OrderTrace:
    """Everything the order page shows about ``order``, with the summary written in ``tz``."""
    messages = list(Message.select().where(Message.order == order).order_by(Message.due_at))
    decisions = list(
        Decision.select(Decision, Step)
        .join(Step)
        .where(Decision.order == order)
        .order_by(Step.campaign, Step.position)
    )
    # Without a delivery event the "delivered" trigger counted from the latest estimated
    # delivery date (core.default_triggers): the trace must not call that "delivered".
    estimated = "delivered" not in order.event_times()
    labels = {name: rule.label or name for name, rule in engine.rules.items()}
    attempts = _attempts(messages)
    by_step = {m.step_id: m for m in messages}
    sendable = tuple(
        SendableStep(
            step.id, step_label(step), by_step[step.id].state if step.id in by_step else ""
        )
        for step in active_steps()
        if not step.campaign.account_id or step.campaign.account_id == order.account_id
    )
    return OrderTrace(
        order=_facts(engine, order),
        tz=tz,
        summary=summary(order, messages, decisions, tz),
        delivery=engine.delivery_window(order),
        review_window=engine.review_window(order),
        feedback=_feedback(order),
        blocked=_blocked(order),
        items=tuple(
            TraceItem(i.quantity, i.title, i.sku, i.asin)
            for i in OrderItem.select().where(OrderItem.order == order)
        ),
        events=tuple(
            TraceEvent(e.kind, e.occurred_at, e.source)
            for e in OrderEvent.select()
            .where(OrderEvent.order == order)
            .order_by(OrderEvent.occurred_at)
        ),
        decisions=tuple(
            TraceDecision(
                step=step_label(d.step),
                outcome=d.outcome,
                reason=plain_reason(d.reason, delivery_estimated=estimated),
                decided_by=plain_by(d.decided_by, labels) if d.decided_by else "",
                decided_at=d.decided_at,
            )
            for d in decisions
        ),
        messages=tuple(
            TraceMessage(
                id=m.id,
                state=m.state,
                state_label=state_label(m.state),
                review_request=m.review_request,
                dry_run=m.dry_run,
                sender=m.sender,
                due_at=m.due_at,
                sent_at=m.sent_at,
                reason=plain_reason(m.reason, delivery_estimated=estimated) if m.reason else "",
                error=m.error,
                language=m.language,
                subject=m.subject,
                body=m.body,
                attempts=tuple(attempts.get(m.id, ())),
            )
            for m in messages
        ),
        sendable=sendable,
    )


def find_orders(order_id: str) -> list[Order]:
    """Every stored order with Amazon's id ``order_id`` (one per account that has it)."""
    return list(Order.select().where(Order.order_id == order_id).order_by(Order.account))
