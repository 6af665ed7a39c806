"""Looking up stored orders by the id the buyer and Amazon know them by."""

from __future__ import annotations

from .models import Order


def find_order(order_id: str) -> Order | None:
    """The order with Amazon's id ``order_id`` (any account), or None."""
    return Order.select().where(Order.order_id == order_id).first()
