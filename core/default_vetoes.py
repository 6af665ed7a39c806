"""Vetoes no campaign can override: Amazon's hard limits and the seller's stop lists.

A reason that starts with ``waiting:`` postpones the message (it is re-checked later);
any other reason skips it for good. Sources: Amazon Communication Guidelines and the
Solicitations API docs, summarised in shared/DOMAIN.md §2-§3.
"""

from __future__ import annotations

from datetime import timedelta

from .clock import utcnow
from .contracts import IN_DOUBT, SENDING, SENT
from .hookspecs import hookimpl

# "sent within 30 days of order completion" (DOMAIN.md §3, "Must").
COMPLETION_LIMIT = timedelta(days=30)
# "at most 5 x (average daily orders over the last 7 days) + 600 messages a day".
DAILY_LIMIT_BASE = 600
DAILY_LIMIT_FACTOR = 5


def order_stopped(order):
    if order.messages_stopped:
        return "excluded: seller stopped messages for this order"
    return None


def order_unwanted(order):
    """Never message a cancelled, returned or refunded order (the top user complaint)."""
    unwanted = order.unwanted_event()
    if unwanted:
        kind, when = unwanted
        return f"excluded: {kind} on {when:%Y-%m-%d}"
    return None


def buyer_opted_out(message, order):
    """Opted-out buyers get only messages critical to completing the order."""
    from .models import OptOut, Step

    if not order.buyer_key:
        return None
    rows = {
        kind
        for (kind,) in OptOut.select(OptOut.kind)
        .where(OptOut.buyer_key == order.buyer_key)
        .tuples()
    }
    if "blocklist" in rows:
        return "excluded: buyer is on the seller's blocklist"
    if "opt_out" in rows:
        step = Step.get_or_none(Step.id == message.step_id) if message.step_id else None
        if not (step and step.critical):
            return "excluded: buyer opted out of non-critical messages"
    return None


def one_review_request(message, order):
    """One review request per order, across Request a Review and free-text requests."""
    from .models import Message

    if not message.review_request:
        return None
    other = (
        Message.select(Message.id, Message.sender, Message.state)
        .where(
            (Message.order == order)
            & (Message.review_request == True)  # noqa: E712 - peewee expression
            & (Message.state.in_([SENT, SENDING, IN_DOUBT]))
            & (Message.dry_run == message.dry_run)
            & (Message.id != (message.id or 0))
        )
        .first()
    )
    if other is not None:
        return (
            f"excluded: a review was already requested for this order "
            f"(message #{other.id}, {other.sender}, {other.state})"
        )
    return None


def completion_limit(engine, order):
    window = engine.delivery_window(order)
    completed = window.latest if window and window.latest else None
    if completed is not None and utcnow() > completed + COMPLETION_LIMIT:
        return f"excluded: more than 30 days after order completion ({completed:%Y-%m-%d})"
    return None


def review_window(engine, message, order):
    if not message.review_request:
        return None
    window = engine.review_window(order)
    if window is None:
        return "waiting: review-request window unknown (no delivery date yet)"
    now = utcnow()
    if now < window.opens:
        return f"waiting: review-request window opens {window.opens:%Y-%m-%d %H:%M} UTC"
    if now > window.closes:
        return f"excluded: review-request window closed {window.closes:%Y-%m-%d}"
    return None


def daily_limit(engine, message, order) -> str | None:
    """Amazon's per-account daily volume limit, checked only when actually sending."""
    if message.state != SENDING or message.dry_run:
        return None
    used, limit = daily_usage(order.account_id)
    if used >= limit:
        return f"waiting: daily message limit reached ({used}/{limit}), continues tomorrow"
    return None


def daily_usage(account_id: int) -> tuple[int, int]:
    """(messages sent today, today's limit) for a seller account, UTC day."""
    from .models import Message, Order

    now = utcnow()
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    orders = (
        Order.select()
        .where(
            (Order.account == account_id)
            & (Order.purchased_at >= day - timedelta(days=7))
            & (Order.purchased_at < day)
        )
        .count()
    )
    limit = DAILY_LIMIT_FACTOR * round(orders / 7) + DAILY_LIMIT_BASE
    used = (
        Message.select()
        .where(
            (Message.account == account_id)
            & (Message.dry_run == False)  # noqa: E712
            & (Message.sent_at >= day)
            & (Message.state.in_([SENT, IN_DOUBT]))
        )
        .count()
    )
    return used, limit


def send_vetoes_sql(q, *, review_request: bool, dry_run: bool, critical: bool) -> list:
    """The planning-time part of ``send_vetoes`` as SQL: ``(excludes, reason)`` pairs over
    the order ``q.o``, in the same order, for ``core.planning_bulk``.

    Only the hard vetoes a *scheduled* message can meet are here: ``daily_limit`` never
    applies to one, and "waiting:" answers do not stop planning. ``review_window``'s
    "closed" answer is left out on purpose: with the default windows it closes exactly
    when ``completion_limit`` (30 days after the latest delivery) has already excluded
    the order, so it can never be the first reason. ``sender_switched_off`` is not here:
    the bulk planner leaves those marketplaces to Python. It uses this only when the
    default windows and this module are the only answers for the marketplace.
    """
    from peewee import fn

    from .models import Message

    o = q.o
    out = [
        (o.messages_stopped == True, "excluded: seller stopped messages for this order"),  # noqa: E712
        q.unwanted(),
    ]

    # q.listed is false without a buyer key.
    out.append((q.listed("blocklist"), "excluded: buyer is on the seller's blocklist"))
    if not critical:
        out.append((q.listed("opt_out"), "excluded: buyer opted out of non-critical messages"))
    if review_request:
        other = Message.alias()
        first = (
            other.select(
                q.concat(
                    "excluded: a review was already requested for this order (message #",
                    q.text(other.id),
                    ", ",
                    other.sender,
                    ", ",
                    other.state,
                    ")",
                )
            )
            .where(
                (other.order == o.id)
                & (other.review_request == True)  # noqa: E712
                & (other.state.in_([SENT, SENDING, IN_DOUBT]))
                & (other.dry_run == dry_run)
            )
            .order_by(other.id)
            .limit(1)
        )
        out.append((q.present(first), first))
    completed = fn.COALESCE(o.latest_delivery, o.earliest_delivery)
    out.append(
        (
            completed < utcnow() - COMPLETION_LIMIT,
            q.concat(
                "excluded: more than 30 days after order completion (", q.date(completed), ")"
            ),
        )
    )
    return out


def sender_switched_off(engine, message, order):
    """A channel belongs to its plugin: switched off for a marketplace (config.toml or the
    Plugins page), the plugin is not consulted for its orders, so it does not send either."""
    plugin = engine.sender_plugin(message.sender)
    if plugin and not engine.plugin_enabled(plugin, order.marketplace):
        return (
            f"excluded: {message.sender} comes from the {plugin} plugin, switched off for "
            f"{order.marketplace} (Plugins page)"
        )
    return None


@hookimpl
def send_vetoes(engine, message, order):
    return [
        sender_switched_off(engine, message, order),
        order_stopped(order),
        order_unwanted(order),
        buyer_opted_out(message, order),
        one_review_request(message, order),
        completion_limit(engine, order),
        review_window(engine, message, order),
        daily_limit(engine, message, order),
    ]
