"""Vetoes no campaign can override: Amazon's hard limits and the seller's stop lists.

A reason that starts with ``waiting:`` postpones the message (it is re-checked later);
any other reason skips it for good. Sources: Amazon Communication Guidelines and the
Solicitations API docs, summarised in docs/amazon-rules.md §2-§3.
"""

from __future__ import annotations

from datetime import timedelta

from . import ledger
from .clock import utcnow
from .contracts import REVIEW_CLOSES_AFTER
from .default_windows import completion, completion_sql, estimated_review_window
from .hookspecs import hookimpl

# "sent within 30 days of order completion" (docs/amazon-rules.md §3, "Must").
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
    """No message more than 30 days after order completion (Amazon's communication
    guidelines). Completion is the first of the delivery date, the latest promised
    delivery date, the ship date plus the marketplace's transit and the order date plus
    its longest transit (``core.default_windows.completion``), so the bound exists for
    every order, delivery date or not; the reason says which one applied."""
    done = completion(engine, order)
    if utcnow() > done.when + COMPLETION_LIMIT:
        return (
            f"excluded: more than 30 days after order completion "
            f"({done.when:%Y-%m-%d}, {done.basis})"
        )
    return None


def review_window(engine, message, order):
    """Amazon's Solicitations API: a review may be requested from 5 days after the
    earliest delivery to 30 days after the latest.

    An order without a delivery window (none promised, none estimated) gets the window
    of its estimated completion (``core.default_windows.estimated_review_window``), so
    the request is asked for and ends like every other message; one that has not shipped
    waits for the shipment, and ``completion_limit`` still ends it in time.
    """
    if not message.review_request:
        return None
    window = engine.review_window(order)
    note = ""
    if window is None:
        window = estimated_review_window(engine, order)
        if window is None:
            return "waiting: not shipped yet; the review-request window opens 5 days after delivery"
        note = f" ({window.source})"
    now = utcnow()
    if now < window.opens:
        return f"waiting: review-request window opens {window.opens:%Y-%m-%d %H:%M} UTC{note}"
    if now > window.closes:
        return f"excluded: review-request window closed {window.closes:%Y-%m-%d}"
    return None


def send_vetoes_sql(q, *, review_request: bool, dry_run: bool, critical: bool) -> list:
    """The planning-time part of ``send_vetoes`` as SQL: ``(excludes, reason)`` pairs over
    the order ``q.o``, in the same order, for ``core.planning_bulk``.

    Only the hard vetoes a *scheduled* message can meet are here: the daily limit never
    applies to one, and "waiting:" answers do not stop planning. ``review_window``'s
    "closed" answer is here only for a stored window: one estimated from the order's
    completion closes exactly when ``completion_limit`` excludes the order, so it can
    never be the first reason. ``sender_switched_off`` is not here:
    the bulk planner leaves those marketplaces to Python. It uses this only when the
    default windows and this module are the only answers for the marketplace.
    """
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
    out.append(completion_limit_sql(q))
    if review_request:
        out.append(review_closed_sql(q))
    return out


def completion_limit_sql(q) -> tuple:
    """``completion_limit`` as ``(excludes, reason)`` over the order ``q.o``."""
    completed, basis = completion_sql(q)
    return (
        completed < utcnow() - COMPLETION_LIMIT,
        q.concat(
            "excluded: more than 30 days after order completion (",
            q.date(completed),
            ", ",
            basis,
            ")",
        ),
    )


def review_closed_sql(q) -> tuple:
    """``review_window``'s "closed" answer for a stored delivery window: it comes first
    when the delivered event is later than the window (completion counts from the
    delivery, Amazon's window from the stored dates)."""
    from peewee import fn

    o = q.o
    closes = q.add(fn.COALESCE(o.latest_delivery, o.earliest_delivery), REVIEW_CLOSES_AFTER.days)
    return (
        closes < utcnow(),
        q.concat("excluded: review-request window closed ", q.date(closes)),
    )


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


def test_mode_on(engine, message):
    """Test mode switched on after a message was planned for a live sender: it waits
    until the re-plan that the switch asked for moves it to the dry-run sender."""
    from .runtime_settings import test_mode

    if not message.dry_run and message.sender != "dry_run" and test_mode(engine):
        return "waiting: test mode is on; the message moves to the dry-run sender when re-planned"
    return None


@hookimpl
def send_vetoes(engine, message, order):
    return [
        test_mode_on(engine, message),
        sender_switched_off(engine, message, order),
        order_stopped(order),
        order_unwanted(order),
        buyer_opted_out(message, order),
        one_review_request(message, order),
        completion_limit(engine, order),
        review_window(engine, message, order),
        ledger.daily_limit_veto(message, order),
    ]
