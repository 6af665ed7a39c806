"""Live orders: the orders a re-plan must look at, found through indexes.

No message may go out more than 30 days after an order's completion
(docs/amazon-rules.md §3, ``core.default_vetoes.completion_limit``). Completion is the
first of the delivery event, the stored delivery window, the ship date plus the
marketplace's transit and the order date plus its longest transit
(``core.default_windows.completion``), so an order none of whose dates comes within 30
days plus the longest step delay of now can only ever be excluded: re-planning it writes
the same "excluded" decision again and sends nothing. A full re-plan therefore plans only
*live* orders: those with one of these dates recent enough, or with a message that is
not final yet (planning may still move or cancel it). Years of history then cost a re-plan
nothing, and its time follows the live orders, not the database's size.

The test is a superset of "could still be sent": each of its terms is an upper bound of
one way completion is reached, and each is an index range (migration 0017).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .contracts import DEFAULT_TRANSIT_DAYS, DELIVERED, FINAL_STATES, SHIPPED, TRANSIT_DAYS
from .default_vetoes import COMPLETION_LIMIT
from .default_windows import DEFAULT_LONGEST_TRANSIT_DAYS, LONGEST_TRANSIT_DAYS
from .models import Message, Order, OrderEvent

MAX_TRANSIT = timedelta(days=max(DEFAULT_TRANSIT_DAYS, *TRANSIT_DAYS.values()))
MAX_LONGEST_TRANSIT = timedelta(
    days=max(DEFAULT_LONGEST_TRANSIT_DAYS, *LONGEST_TRANSIT_DAYS.values())
)
NOT_FINAL = sorted({"scheduled", "sending", "retry", "in_doubt"} - FINAL_STATES)


def longest_delay(steps) -> timedelta:
    """The longest delay of ``steps`` (a message is due at most this long after its
    anchor)."""
    return max(
        (timedelta(days=s.delay_days or 0, hours=s.delay_hours or 0) for s in steps),
        default=timedelta(0),
    )


def live_since(now: datetime, steps) -> datetime:
    """The earliest completion an order can have and still be sent a message of
    ``steps`` at ``now``."""
    return now - COMPLETION_LIMIT - longest_delay(steps)


def live_ids(now: datetime, steps):
    """A query of the ids of the orders live at ``now`` for ``steps`` (see the module's
    docstring): a UNION of index ranges, so it reads the live orders and nothing else."""
    since = live_since(now, steps)
    shipped_since = since - MAX_TRANSIT
    o, e = Order, OrderEvent
    parts = [
        o.select(o.id).where(o.purchased_at >= since - MAX_LONGEST_TRANSIT),
        o.select(o.id).where(o.latest_delivery >= since),
        o.select(o.id).where(o.earliest_delivery >= since),
        o.select(o.id).where(o.shipped_at >= shipped_since),
        e.select(e.order).where((e.kind == DELIVERED) & (e.occurred_at >= since)),
        e.select(e.order).where((e.kind == SHIPPED) & (e.occurred_at >= shipped_since)),
        Message.select(Message.order).where(Message.state.in_(NOT_FINAL)),
    ]
    query = parts[0]
    for part in parts[1:]:
        query = query.union(part)
    return query


def is_live(o, now: datetime, steps):
    """A condition over the order model or alias ``o``: the order is live at ``now`` for
    ``steps``."""
    return o.id.in_(live_ids(now, steps))


def count_live(now: datetime, steps, account_id: int | None = None, limit: int | None = None):
    """How many live orders (of ``account_id``), counting at most ``limit`` + 1."""
    query = Order.select(Order.id).where(is_live(Order, now, steps))
    if account_id:
        query = query.where(Order.account == account_id)
    if limit is not None:
        query = query.limit(limit + 1)
    return query.count()
