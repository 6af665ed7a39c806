"""Vetoes no campaign can override: Amazon's hard limits and the seller's stop lists.

A reason that starts with ``waiting:`` postpones the message (it is re-checked later);
any other reason skips it for good. Sources: Amazon Communication Guidelines and the
Solicitations API docs, summarised in shared/DOMAIN.md §2-§3.
"""

from __future__ import annotations

from datetime import timedelta

from . import ledger
from .clock import utcnow
from .hookspecs import hookimpl

# "sent within 30 days of order completion" (DOMAIN.md §3, "Must").
COMPLETION_LIMIT = timedelta(days=30)


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
    return ledger.review_request_veto(message, order)


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


def send_vetoes_sql(q, *, review_request: bool, dry_run: bool, critical: bool) -> list:
    """The planning-time part of ``send_vetoes`` as SQL: ``(excludes, reason)`` pairs over
    the order ``q.o``, in the same order, for ``core.planning_bulk``.

    Only the hard vetoes a *scheduled* message can meet are here: the daily limit never
    applies to one, and "waiting:" answers do not stop planning. ``review_window``'s
    "closed" answer is left out on purpose: with the default windows it closes exactly
    when ``completion_limit`` (30 days after the latest delivery) has already excluded
    the order, so it can never be the first reason. ``sender_switched_off`` is not here:
    the bulk planner leaves those marketplaces to Python. It uses this only when the
    default windows and this module are the only answers for the marketplace.
    """
    from peewee import fn

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
        out.append(ledger.review_request_sql(q))
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
        ledger.daily_limit_veto(message, order),
    ]
