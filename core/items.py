"""An order's items, read once per dispatch batch.

Rules, the template context, attachments and plugins all ask for the items of the
order being sent. ``core.dispatch.load_claimed`` reads the items of a whole batch in one
query and keeps them on each order; everyone else reads them here, from that copy when
there is one, so a send costs no query per reader.
"""

from __future__ import annotations

from .models import OrderItem

_KEY = "_items"


def order_items(order) -> list:
    """The order's items (its ``OrderItem`` rows, in id order)."""
    cached = order.__dict__.get(_KEY)
    if cached is not None:
        return cached
    if not order.id:
        return []
    return list(OrderItem.select().where(OrderItem.order == order.id).order_by(OrderItem.id))


def keep_items(orders: dict) -> None:
    """Read the items of ``orders`` (id -> Order) in one query and keep them on each."""
    found: dict[int, list] = {i: [] for i in orders}
    rows = OrderItem.select().where(OrderItem.order.in_(list(orders))).order_by(OrderItem.id)
    for item in rows:
        found[item.order_id].append(item)
    for order_id, order in orders.items():
        order.__dict__[_KEY] = found[order_id]
