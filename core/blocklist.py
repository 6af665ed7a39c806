"""Opt-outs, the seller's blocklist and "stop messages", with their undo.

Blocking a buyer or stopping an order cancels what was waiting; undoing it must bring
exactly that back, nothing the buyer or Amazon decided. So an undo revives only the
unsent messages that the block or the stop ended (their reason says so, and for a block
they ended after it began), then re-plans those orders through ``core.planning``: every
rule, veto and window is judged again, and a message whose moment passed goes at the
next dispatch or is skipped with its reason, as any other.

A blocklist entry may expire: ``expire_blocklist`` (run by the worker's minute tick)
removes entries past their ``expires_at`` the same way as a person's undo.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from peewee import IntegrityError, fn

from .clock import utcnow
from .contracts import CANCELLED, RETRY, SCHEDULED, SKIPPED
from .db import database
from .models import AuditLog, Message, OptOut, Order
from .planning import plan_orders

log = logging.getLogger(__name__)

# The reasons a stop or a block ends a message with (``stop_order_messages``,
# the blocklist rule and veto, the "stop" veto), so an undo revives exactly those.
STOP_REASONS = (
    "stopped by ",
    "stopped: buyer replied",
    "excluded: seller stopped messages for this order",
)
# A stop the buyer asked for through Amazon (an opt-out bounce) is not the seller's to undo.
OPTED_OUT = "stopped: the buyer opted out"


class UndoRefused(ValueError):
    """The stop cannot be undone; the message says why."""


BLOCK_REASONS = (
    "excluded: buyer is on the seller's blocklist",
    "excluded: buyer is on the blocklist",
)
REASON_MAX = 500


# How long a seller may block a buyer for: a day at least, ten years at most (longer is
# "until removed", the empty answer).
BLOCK_DAYS_MAX = 3650
BLOCK_DAYS_PROBLEM = (
    f"For how long: a whole number of days from 1 to {BLOCK_DAYS_MAX}, or empty for always."
)


def block_days(value: str) -> tuple[int, str]:
    """A blocklist form's "for how long": ``(days, "")`` with 0 for "until removed" (an
    empty answer), or ``(0, problem)`` in words the form shows next to the field."""
    value = value.strip()
    if not value:
        return 0, ""
    # ASCII digits only: str.isdigit() also accepts "²", which int() refuses.
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= BLOCK_DAYS_MAX:
        return 0, BLOCK_DAYS_PROBLEM
    return int(value), ""


def block_expiry(days: int, now: datetime | None = None) -> datetime | None:
    """When a block of ``days`` days ends (``expires_at``); None: until removed."""
    return (now or utcnow()) + timedelta(days=days) if days else None


def stop_order_messages(order: Order, reason: str, *, by: str = "") -> int:
    """Cancel every not-yet-sent message of ``order``; future planning skips it too.

    Returns the number of messages cancelled. ``reason`` is shown in the order trace.
    """
    with database.atomic():
        Order.update(messages_stopped=True).where(Order.id == order.id).execute()
        count = (
            Message.update(state=CANCELLED, reason=reason, updated_at=utcnow())
            .where((Message.order == order) & Message.state.in_([SCHEDULED, RETRY]))
            .execute()
        )
        AuditLog.create(user=by, action="order_stopped", target=order.order_id, detail=reason)
    order.messages_stopped = True
    return count


def add_opt_out(buyer_key: str, kind: str = "opt_out", reason: str = "", *, by: str = "") -> bool:
    """Put a buyer on the opt-out list (Amazon) or the seller's blocklist.

    Returns False when the buyer was already on that list.
    """
    if kind not in ("opt_out", "blocklist"):
        raise ValueError(f"kind must be opt_out or blocklist, not {kind!r}")
    if not buyer_key:
        raise ValueError("buyer_key is empty: the order has no buyer identity")
    try:
        with database.atomic():
            OptOut.create(buyer_key=buyer_key, kind=kind, reason=reason)
            AuditLog.create(user=by, action=f"buyer_{kind}", target=buyer_key, detail=reason)
    except IntegrityError:
        return False
    return True


def _revive(where) -> int:
    """Unsent messages ended by a stop or block -> scheduled again (planning re-judges)."""
    return (
        Message.update(state=SCHEDULED, reason="", updated_at=utcnow())
        .where(where & Message.state.in_([CANCELLED, SKIPPED]) & Message.sent_at.is_null())
        .execute()
    )


def _reason_in(reasons) -> object:
    cond = None
    for text in reasons:
        part = Message.reason.startswith(text)
        cond = part if cond is None else cond | part
    return cond


def resume_order(engine, order: Order, *, by: str = "") -> int:
    """Undo "stop messages" for ``order``: planning may reach it again and the messages
    the stop cancelled are re-planned. Returns how many messages came back.

    Raises ``UndoRefused`` when the stop came from the buyer's opt-out (Amazon bounced a
    message): messaging them again would break Amazon's opt-out rule
    (docs/amazon-rules.md).
    """
    opted_out = Message.select().where(
        (Message.order == order.id) & Message.reason.startswith(OPTED_OUT)
    )
    if opted_out.exists():
        raise UndoRefused(
            "the buyer opted out of messages through Amazon, so this stop cannot be undone"
        )
    with database.atomic():
        Order.update(messages_stopped=False).where(Order.id == order.id).execute()
        revived = _revive((Message.order == order.id) & _reason_in(STOP_REASONS))
        AuditLog.create(
            user=by, action="order_resumed", target=order.order_id, detail=f"{revived} revived"
        )
    order.messages_stopped = False
    plan_orders(engine, [order.id])
    return revived


def blocklist_entries(limit: int = 500) -> list[OptOut]:
    """The blocklist, newest first, each with ``latest_order`` (the buyer's most recently
    stored order, or None) and ``orders`` (how many orders the buyer has); three queries
    whatever the length."""
    rows = list(
        OptOut.select()
        .where(OptOut.kind == "blocklist")
        .order_by(OptOut.created_at.desc(), OptOut.id.desc())
        .limit(limit)
    )
    keys = [r.buyer_key for r in rows]
    counts = {
        key: (count, newest)
        for key, count, newest in Order.select(
            Order.buyer_key, fn.COUNT(Order.id), fn.MAX(Order.id)
        )
        .where(Order.buyer_key.in_(keys))
        .group_by(Order.buyer_key)
        .tuples()
    }
    newest = {o.id: o for o in Order.select().where(Order.id.in_([n for _, n in counts.values()]))}
    for row in rows:
        count, latest = counts.get(row.buyer_key, (0, None))
        row.orders = count
        row.latest_order = newest.get(latest)
    return rows


def block_buyer(
    buyer_key: str, reason: str, *, by: str = "", expires_at: datetime | None = None
) -> bool:
    """Put a buyer on the blocklist (until ``expires_at``, or until removed). Returns
    False when the buyer was already on it (its reason and expiry are kept)."""
    if not add_opt_out(buyer_key, "blocklist", reason[:REASON_MAX], by=by):
        return False
    OptOut.update(created_by=by, expires_at=expires_at).where(
        (OptOut.buyer_key == buyer_key) & (OptOut.kind == "blocklist")
    ).execute()
    return True


def unblock_buyer(engine, entry: OptOut, *, by: str = "", why: str = "removed") -> int:
    """Take ``entry`` off the blocklist; messages the block ended come back and the
    buyer's orders are re-planned. Returns how many messages came back."""
    with database.atomic():
        gone = OptOut.delete().where(OptOut.id == entry.id).execute()
        if not gone:
            return 0  # someone else removed it first
        mine = Order.select(Order.id).where(Order.buyer_key == entry.buyer_key)
        orders = [pk for (pk,) in mine.tuples()]
        revived = 0
        if orders:
            revived = _revive(
                Message.order.in_(orders)
                & _reason_in(BLOCK_REASONS)
                & (Message.updated_at >= entry.created_at)
            )
        AuditLog.create(
            user=by,
            action="buyer_unblocked",
            target=entry.buyer_key,
            detail=f"{why}; {revived} message(s) revived",
        )
    if orders:
        plan_orders(engine, orders)
    return revived


def expire_blocklist(engine, now: datetime | None = None) -> int:
    """Remove blocklist entries whose time is up; returns how many."""
    now = now or utcnow()
    expired = list(
        OptOut.select().where(
            (OptOut.kind == "blocklist")
            & OptOut.expires_at.is_null(False)
            & (OptOut.expires_at <= now)
        )
    )
    for entry in expired:
        unblock_buyer(engine, entry, by="", why=f"expired {entry.expires_at:%Y-%m-%d %H:%M} UTC")
        log.info("blocklist entry for %s expired", entry.buyer_key)
    return len(expired)
