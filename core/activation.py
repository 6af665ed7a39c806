"""What activating a campaign would do, and the cut-off that bounds it.

A campaign that goes live plans messages for every matching order it is allowed to see.
Without a bound that is the whole order history: a "Shipped" campaign activated today
would message every order of the last month at once, some due weeks ago. So activation
sets a cut-off on the campaign (``Campaign.orders_from``): orders placed before it are
excluded, with the reason in their trace (``core.decide``). "New orders only" (the
default) puts the cut-off at the moment of activation; "also the last N days" N days
earlier. The web page only asks; ``set_status`` and planning apply it.

``preview`` answers, before anything changes, how many messages the chosen cut-off lets
out now and later, a sample of the orders with their due times and reasons, and which
other active campaigns already ask the same orders for a review (Amazon allows one
review request per order, docs/amazon-rules.md §2.1).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import fn

from .clock import utcnow
from .contracts import CANCELLED, SCHEDULED, is_review_request
from .decide import EXCLUDED, PLAN, SEND, SEND_TIME, WAIT, decide
from .models import Campaign, Message, Order, Step
from .planning import _preload

MAX_BACKLOG_DAYS = 365
PREVIEW_ORDERS = 250  # orders checked one by one, newest first (bench.activation: ms per pair)
SAMPLE_ROWS = 12


class ActivationError(ValueError):
    """The backlog choice cannot be used; the message says what to enter."""


def check_backlog_days(value) -> int | None:
    """``None`` (new orders only) or a whole number of days 0..365; else ActivationError."""
    if value is None or value == "":
        return None
    try:
        days = int(str(value).strip())
    except ValueError:
        raise ActivationError(
            f"days: {str(value).strip()!r} is not a whole number of days"
        ) from None
    if not 0 <= days <= MAX_BACKLOG_DAYS:
        raise ActivationError(f"days: enter a whole number from 0 to {MAX_BACKLOG_DAYS}")
    return days


def choose_cutoff(
    campaign: Campaign, backlog_days: int | None, *, now: datetime | None = None
) -> datetime:
    """The cut-off an activation sets: ``now`` minus ``backlog_days`` days; with
    ``None``, the campaign's earlier cut-off when it is resumed, else ``now`` (new
    orders only)."""
    now = now or utcnow()
    if backlog_days is None:
        return campaign.orders_from or now
    return now - timedelta(days=check_backlog_days(backlog_days) or 0)


@dataclass
class PreviewRow:
    order: Order
    step: Step
    due_at: datetime
    reason: str


@dataclass
class Overlap:
    """Another active campaign asking for reviews on the same orders."""

    campaign: Campaign
    orders: int  # previewed orders it already has a review request for


@dataclass
class ActivationPreview:
    cutoff: datetime
    backlog_days: int | None
    orders_checked: int = 0
    orders_after: int = 0  # orders placed on or after the cut-off
    orders_before: int = 0  # left out by the cut-off
    send_now: int = 0  # messages due at once
    later: int = 0  # messages planned for later
    not_planned: Counter = field(default_factory=Counter)  # reason -> count
    sample: list[PreviewRow] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)

    @property
    def truncated(self) -> bool:
        return self.orders_after > self.orders_checked


def _account_orders(campaign: Campaign):
    query = Order.select()
    if campaign.account_id:
        query = query.where(Order.account == campaign.account_id)
    return query


def preview(
    engine,
    campaign: Campaign,
    backlog_days: int | None = None,
    *,
    limit: int = PREVIEW_ORDERS,
) -> ActivationPreview:
    """What ``set_status(campaign, "active", backlog_days=...)`` would plan, computed
    with the same ``decide`` planning uses, saving nothing."""
    now = utcnow()
    cutoff = choose_cutoff(campaign, backlog_days, now=now)
    report = ActivationPreview(cutoff=cutoff, backlog_days=backlog_days)
    # An unsaved copy: the steps decide as they will once active with this cut-off.
    live = Campaign(**campaign.__data__)
    live.status, live.orders_from = "active", cutoff
    steps = list(campaign.steps.order_by(Step.position))
    for step in steps:
        step.campaign = live
    orders = _account_orders(campaign)
    report.orders_before = orders.where(Order.purchased_at < cutoff).count()
    after = orders.where(Order.purchased_at >= cutoff)
    report.orders_after = after.count()
    batch = list(after.order_by(Order.purchased_at.desc()).limit(limit))
    report.orders_checked = len(batch)
    messages = _preload(batch) if batch else {}
    for order in batch:
        for step in steps:
            existing = messages[order.id].get(step.id)
            if existing is not None and existing.state != SCHEDULED and not existing.dry_run:
                continue  # already sent or in flight: activation does not repeat it
            verdict = decide(engine, order, step, mode=PLAN)
            if verdict.outcome != SEND:
                if verdict.outcome == EXCLUDED or verdict.reason:
                    report.not_planned[reason_key(verdict.reason)] += 1
                continue
            reason = verdict.reason
            if verdict.due_at <= now:
                # Due already: would the dispatcher send it on its next tick, or hold it
                # (Amazon's review window not open yet, the daily limit...)?
                at_send = decide(engine, order, step, mode=SEND_TIME)
                if at_send.outcome == SEND:
                    report.send_now += 1
                elif at_send.outcome == WAIT:
                    report.later += 1
                    reason = at_send.reason
                else:
                    report.not_planned[reason_key(at_send.reason)] += 1
                    continue
            else:
                report.later += 1
            report.sample.append(PreviewRow(order, step, verdict.due_at, reason))
    report.sample.sort(key=lambda r: (r.due_at, r.order.order_id))
    report.sample = report.sample[:SAMPLE_ROWS]
    report.overlaps = overlapping_reviews(engine, campaign, steps, [o.id for o in batch])
    return report


def reason_key(reason: str) -> str:
    """Group "excluded: refunded on 2026-11-03" with the other refunds."""
    return reason.split(" on 20", 1)[0].split(" (", 1)[0]


def overlapping_reviews(engine, campaign: Campaign, steps, order_ids) -> list[Overlap]:
    """Other active campaigns that ask the same seller's orders for a review, when this
    one does too; with how many of ``order_ids`` they already have a request for."""
    if not any(is_review_request(engine, s) for s in steps):
        return []
    others = Campaign.select().where((Campaign.id != campaign.id) & (Campaign.status == "active"))
    if campaign.account_id:
        others = others.where(
            Campaign.account.is_null() | (Campaign.account == campaign.account_id)
        )
    found = []
    for other in others:
        other_steps = list(other.steps)
        if not any(is_review_request(engine, s) for s in other_steps):
            continue
        count = 0
        if order_ids:
            count = (
                Message.select(fn.COUNT(fn.DISTINCT(Message.order)))
                .where(
                    (Message.campaign == other.id)
                    & (Message.review_request == True)  # noqa: E712 - peewee expression
                    & (Message.state != CANCELLED)
                    & Message.order.in_(order_ids)
                )
                .scalar()
            )
        found.append(Overlap(other, int(count or 0)))
    return found
