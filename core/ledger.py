"""The ledger: what really went out, per order and per seller account.

Two of Amazon's limits are about what a buyer or Amazon actually received, so they are
answered here and only here, for the send vetoes, the set-based re-plan and the
dashboard alike (see docs/amazon-rules.md):

* **One review request per order**, across Request a Review and free-text requests
  ("more than one review request per order" is prohibited; the Solicitations API
  allows the button once per order).
* **Daily volume per seller account**: at most 5 × (average daily orders over the last
  7 days) + 600 messages a day.

Only live messages count. A dry run or a campaign in test status reaches no buyer, so it
never uses up the order's review request nor a slot of the daily limit: activating a
campaign after testing it sends for real.
"""

from __future__ import annotations

from datetime import timedelta

from peewee import Select, fn

from .clock import utcnow
from .contracts import IN_DOUBT, SENDING, SENT, Waiting
from .db import database, is_sqlite
from .models import Attempt, Message, Order, SellerAccount

# States in which a live review request counts as made: ``sent``, and ``in_doubt``
# because it may have reached Amazon (asking again could be the second request).
REVIEW_REQUESTED = (SENT, IN_DOUBT)
# A partner request still in flight: its outcome decides, so wait for it.
REVIEW_IN_FLIGHT = (SENDING,)
# How soon to look again when another campaign's review request is in flight: about
# one send, so a failure of the other (an SMTP 550, a 403) does not cost the order its
# review request for a whole day.
IN_FLIGHT_RECHECK_SECONDS = 120

DAILY_LIMIT_BASE = 600
DAILY_LIMIT_FACTOR = 5


def review_request_veto(message, order) -> str | None:
    """Why ``message`` (a review request) must not go out for ``order``, or None.

    Another live review request that was sent, or may have been, excludes this one for
    good; one still being sent makes this one wait and look again in minutes, so the
    order keeps its chance if the other fails. One query for both: this runs for every
    review request planned or sent.
    """
    if not message.review_request:
        return None
    states = REVIEW_REQUESTED if message.dry_run else REVIEW_REQUESTED + REVIEW_IN_FLIGHT
    others = (
        Message.select(Message.id, Message.sender, Message.state)
        .where(
            (Message.order == order.id)
            & (Message.review_request == True)  # noqa: E712 - peewee expression
            & (Message.dry_run == False)  # noqa: E712 - dry runs reach no buyer
            & Message.state.in_(states)
            & (Message.id != (message.id or 0))
        )
        .order_by(Message.id)
    )
    found = list(others)
    made = next((m for m in found if m.state in REVIEW_REQUESTED), None)
    if made is not None:
        return (
            f"excluded: a review was already requested for this order "
            f"(message #{made.id}, {made.sender}, {made.state})"
        )
    if found:  # a simulation (dry run) does not wait for a live send in flight
        flying = found[0]
        return Waiting(
            f"waiting: another review request for this order is being sent "
            f"(message #{flying.id}, {flying.sender}); checked again when it is done",
            recheck_after=IN_FLIGHT_RECHECK_SECONDS,
        )
    return None


def review_request_sql(q):
    """``review_request_veto``'s planning-time half as SQL, for ``core.planning_bulk``:
    ``(excludes, reason)`` over the order ``q.o``. Only ``sent``/``in_doubt`` exclude;
    a request in flight never stops planning."""
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
            (other.order == q.o.id)
            & (other.review_request == True)  # noqa: E712
            & (other.dry_run == False)  # noqa: E712
            & (other.state.in_(REVIEW_REQUESTED))
        )
        .order_by(other.id)
        .limit(1)
    )
    return q.present(first), first


def _usage_counts(account_id: int):
    """The two counts behind the daily limit, as scalar subqueries: the account's orders
    of the last 7 full UTC days, and its live messages sent (or maybe sent) today."""
    day = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    orders = Order.select(fn.COUNT(Order.id)).where(
        (Order.account == account_id)
        & (Order.purchased_at >= day - timedelta(days=7))
        & (Order.purchased_at < day)
    )
    used = Message.select(fn.COUNT(Message.id)).where(
        (Message.account == account_id)
        & (Message.dry_run == False)  # noqa: E712
        & (Message.sent_at >= day)
        & (Message.state.in_([SENT, IN_DOUBT]))
    )
    return orders, used


def _limit(orders: int) -> int:
    return DAILY_LIMIT_FACTOR * round(orders / 7) + DAILY_LIMIT_BASE


def daily_usage(account_id: int) -> tuple[int, int]:
    """(live messages sent today, today's limit) for a seller account, UTC day."""
    orders, used = _usage_counts(account_id)
    orders, used = database.execute(Select(columns=[orders, used])).fetchone()
    return used, _limit(orders)


def daily_limit_veto(message, order) -> str | None:
    """Amazon's per-account daily volume, checked only when a live message is sending."""
    if message.state != SENDING or message.dry_run:
        return None
    used, limit = daily_usage(order.account_id)
    if used >= limit:
        return f"waiting: daily message limit reached ({used}/{limit}), continues tomorrow"
    return None


def daily_limit_at_send(account_id: int) -> str | None:
    """The daily limit, checked again inside the transaction that commits a live
    message's attempt (``core.dispatch``), so processes racing for the day's last
    messages cannot all pass it: the account's row is locked until that transaction
    commits (SQLite's ``BEGIN IMMEDIATE`` serialises it already), and messages whose
    attempt is committed but not yet answered count as used."""
    if not is_sqlite():
        SellerAccount.select(SellerAccount.id).where(
            SellerAccount.id == account_id
        ).for_update().execute()
    flying = (
        Message.select(fn.COUNT(Message.id.distinct()))
        .join(Attempt, on=(Attempt.message == Message.id))
        .where(
            (Message.account == account_id)
            & (Message.dry_run == False)  # noqa: E712
            & (Message.state == SENDING)
            & Attempt.finished_at.is_null()
        )
    )
    # The three counts in one statement (one round trip per live send), read after the
    # lock above is held, so they see every attempt committed before it.
    orders, used, flying = database.execute(
        Select(columns=[*_usage_counts(account_id), flying])
    ).fetchone()
    limit = _limit(orders)
    if used + flying >= limit:
        return f"waiting: daily message limit reached ({used + flying}/{limit}), continues tomorrow"
    return None
