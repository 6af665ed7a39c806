"""Built-in triggers: the order events every marketplace has."""

from __future__ import annotations

from .contracts import (
    CANCELLED_EVENT,
    DELIVERED,
    ORDERED,
    REFUNDED,
    RETURNED,
    SHIPPED,
    Trigger,
)
from .hookspecs import hookimpl


def _event(kind: str):
    def anchor(engine, order, events):
        return events.get(kind)

    return anchor


def _delivered(engine, order, events):
    """A confirmed delivery event wins; otherwise the delivery window's latest date.

    Amazon gives FBA orders no delivery date, so a plugin estimates one (ship date plus
    transit). We never fall back to the ship date itself: docs/amazon-rules.md §4, "never treat the
    ship date as the delivery date".
    """
    if DELIVERED in events:
        return events[DELIVERED]
    window = engine.delivery_window(order)
    if window is not None and window.latest is not None and SHIPPED in events:
        return window.latest
    return None


@hookimpl
def register_triggers(engine):
    return [
        Trigger(ORDERED, "Order placed", _event(ORDERED), "waiting: order not placed yet"),
        Trigger(SHIPPED, "Shipped", _event(SHIPPED), "waiting: not shipped yet"),
        Trigger(DELIVERED, "Delivered", _delivered, "waiting: delivery date unknown"),
        Trigger(RETURNED, "Returned", _event(RETURNED), "waiting: no return"),
        Trigger(REFUNDED, "Refunded", _event(REFUNDED), "waiting: no refund"),
        Trigger(CANCELLED_EVENT, "Cancelled", _event(CANCELLED_EVENT), "waiting: not cancelled"),
    ]
