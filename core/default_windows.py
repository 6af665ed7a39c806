"""Default delivery and review-request windows, from the order's own dates.

Plugins (``review_timing``, the Amazon plugin's transit estimates) answer first; these
defaults are registered first and so are asked last.
"""

from __future__ import annotations

from .contracts import REVIEW_CLOSES_AFTER, REVIEW_OPENS_AFTER, DeliveryWindow, TimeWindow
from .hookspecs import hookimpl


@hookimpl
def delivery_window(engine, order):
    if order.earliest_delivery is None and order.latest_delivery is None:
        return None
    earliest = order.earliest_delivery or order.latest_delivery
    latest = order.latest_delivery or order.earliest_delivery
    source = "confirmed delivery" if order.delivery_confirmed else "promised delivery window"
    return DeliveryWindow(earliest, latest, bool(order.delivery_confirmed), source)


@hookimpl
def review_request_window(engine, order):
    window = engine.delivery_window(order)
    if window is None or window.earliest is None:
        return None
    return TimeWindow(
        window.earliest + REVIEW_OPENS_AFTER,
        window.latest + REVIEW_CLOSES_AFTER,
        f"5 days after earliest to 30 days after latest delivery ({window.source})",
    )
