"""Default delivery and review-request windows, and the order's completion, from the
order's own dates.

Plugins (``review_timing``, a plugin that knows better delivery dates) answer the window
hooks first; these defaults are registered first and so are asked last.

Amazon's time bounds need a delivery date an order may never get: FBA orders carry none,
and neither does the All Orders report. ``completion`` always answers, from the first of
the delivery date, the latest promised delivery date, the ship date plus the
marketplace's transit, and the order date plus the marketplace's longest transit, and
says which one it used; ``completion_sql`` is its SQL twin for the set-based re-plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from peewee import Case, fn

from .contracts import (
    DEFAULT_TRANSIT_DAYS,
    DELIVERED,
    REVIEW_CLOSES_AFTER,
    REVIEW_OPENS_AFTER,
    SHIPPED,
    TRANSIT_DAYS,
    DeliveryWindow,
    OrderData,
    TimeWindow,
    transit_days,
)
from .hookspecs import hookimpl

# Days from the order date to the latest a delivery plausibly arrives, handling time and
# slow carriers included: the most generous estimate when nothing says when it shipped,
# so that a late real delivery is not cut off early.
LONGEST_TRANSIT_DAYS = {
    "US": 14,
    "CA": 18,
    "MX": 21,
    "BR": 30,
    "UK": 10,
    "DE": 10,
    "FR": 12,
    "IT": 14,
    "ES": 12,
    "NL": 12,
    "SE": 14,
    "PL": 14,
    "BE": 12,
    "IE": 14,
    "TR": 21,
    "AE": 14,
    "SA": 21,
    "IN": 21,
    "JP": 10,
    "AU": 21,
    "SG": 14,
}
DEFAULT_LONGEST_TRANSIT_DAYS = 21


def longest_transit_days(marketplace: str) -> int:
    """Days from the order date to the latest plausible delivery in ``marketplace``."""
    return LONGEST_TRANSIT_DAYS.get(marketplace, DEFAULT_LONGEST_TRANSIT_DAYS)


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


# -- order completion -------------------------------------------------------------------


@dataclass(frozen=True)
class Completion:
    """When the order was completed, as Amazon's "within 30 days of order completion"
    counts it. ``basis`` says from what, for the order trace ("delivered", "latest
    promised delivery", "estimated: shipped 2026-09-27 + 2 days transit to DE"...);
    ``shipped`` is False only for the order-date estimate of an order not known to have
    left the warehouse (no delivery can be counted from it yet)."""

    when: datetime
    basis: str
    shipped: bool = True


def _estimated_window(order, events) -> bool:
    """A stored window that is an estimate, not Amazon's promise: FBA orders carry no
    delivery date (the Amazon plugin estimates it from the ship date), and an order that
    shipped without a ship date (the All Orders report) got its window on import."""
    return order.fulfillment == "FBA" or (order.shipped_at is None and SHIPPED in events)


def completion(engine, order) -> Completion:
    """The order's completion: the first of the delivery date (a delivered event, or a
    confirmed delivery window), the latest promised delivery date, the ship date plus the
    marketplace's transit, the order date plus the marketplace's longest transit.

    Always answers, so Amazon's 30-day bound always exists. ``completion_sql`` must give
    the same date and basis for an order whose windows come from this module.
    """
    events = order.event_times()
    delivered = events.get(DELIVERED)
    if delivered is not None:
        return Completion(delivered, "delivered")
    window = engine.delivery_window(order)
    if window is not None and (window.latest or window.earliest):
        if window.confirmed:
            basis = "confirmed delivery"
        elif _estimated_window(order, events):
            basis = "latest estimated delivery"
        else:
            basis = "latest promised delivery"
        return Completion(window.latest or window.earliest, basis)
    mkt = order.marketplace
    shipped = order.shipped_at or events.get(SHIPPED)
    if shipped is not None:
        days = transit_days(mkt)
        basis = f"estimated: shipped {shipped:%Y-%m-%d} + {days} days transit to {mkt}"
        return Completion(shipped + timedelta(days=days), basis)
    days, placed = longest_transit_days(mkt), order.purchased_at
    basis = f"estimated: ordered {placed:%Y-%m-%d} + {days} days longest transit to {mkt}"
    return Completion(placed + timedelta(days=days), basis, shipped=False)


def completion_sql(q):
    """``completion`` as SQL over the order ``q.o`` (``core.planning_bulk.SqlContext``):
    ``(when, basis)`` expressions, for orders whose windows come from this module."""
    o = q.o
    delivered = q.event(DELIVERED)
    stored = fn.COALESCE(o.latest_delivery, o.earliest_delivery)
    shipped = fn.COALESCE(o.shipped_at, q.event(SHIPPED))

    def per_marketplace(table: dict, default: int, make):
        return Case(o.marketplace, [(code, make(n)) for code, n in table.items()], make(default))

    by_shipping = per_marketplace(TRANSIT_DAYS, DEFAULT_TRANSIT_DAYS, lambda n: q.add(shipped, n))
    by_order = per_marketplace(
        LONGEST_TRANSIT_DAYS, DEFAULT_LONGEST_TRANSIT_DAYS, lambda n: q.add(o.purchased_at, n)
    )
    when = fn.COALESCE(delivered, stored, by_shipping, by_order)
    estimated = (o.fulfillment == "FBA") | (
        o.shipped_at.is_null() & q.event(SHIPPED).is_null(False)
    )
    known = stored.is_null(False)
    basis = Case(
        None,
        [
            (delivered.is_null(False), "delivered"),
            (known & (o.delivery_confirmed == True), "confirmed delivery"),  # noqa: E712
            (known & estimated, "latest estimated delivery"),
            (known, "latest promised delivery"),
            (
                shipped.is_null(False),
                q.concat(
                    "estimated: shipped ",
                    q.date(shipped),
                    " + ",
                    per_marketplace(TRANSIT_DAYS, DEFAULT_TRANSIT_DAYS, str),
                    " days transit to ",
                    o.marketplace,
                ),
            ),
        ],
        q.concat(
            "estimated: ordered ",
            q.date(o.purchased_at),
            " + ",
            per_marketplace(LONGEST_TRANSIT_DAYS, DEFAULT_LONGEST_TRANSIT_DAYS, str),
            " days longest transit to ",
            o.marketplace,
        ),
    )
    return when, basis


def estimated_review_window(engine, order) -> TimeWindow | None:
    """Amazon's Request a Review window for an order without a delivery window: 5 to 30
    days after its estimated completion (``completion``), so the request is asked for
    and, like every message, ends 30 days after it. None while the order has not shipped.
    """
    done = completion(engine, order)
    if not done.shipped:
        return None
    return TimeWindow(done.when + REVIEW_OPENS_AFTER, done.when + REVIEW_CLOSES_AFTER, done.basis)


def import_window(
    marketplace: str, ordered: datetime, shipped: datetime | None
) -> tuple[datetime, datetime]:
    """(earliest, latest) delivery of an order a report says has shipped but gives no
    ship or delivery date for (the All Orders report).

    From the order date plus the marketplace's transit to the order date plus its longest
    transit, and never before ``shipped`` (the report's last update, when it had shipped
    at the latest) plus the transit. Request a Review then opens 5 days after the
    earliest and closes 30 days after the latest possible delivery: Amazon's action list
    decides within it, and a late real delivery is not cut off early.
    """
    transit = timedelta(days=transit_days(marketplace))
    latest = ordered + timedelta(days=longest_transit_days(marketplace))
    if shipped is not None:
        latest = max(latest, shipped + transit)
    return ordered + transit, latest


def with_delivery_window(data: OrderData) -> OrderData:
    """``data`` with the delivery window its source left out (the All Orders report, from
    a file or the Reports API, has none): the delivered event's time (as the Orders API's
    DELIVERED package status is taken), else, once shipped, the estimate of
    ``import_window``. Without it, Request a Review ("from 5 days after the earliest
    delivery to 30 days after the latest") would wait for a date that never comes. An
    order that has a window, or has not shipped, is kept as it is."""
    if data.earliest_delivery or data.latest_delivery:
        return data
    delivered = data.events.get(DELIVERED)
    if delivered is not None:
        return _replace(
            data, earliest_delivery=delivered, latest_delivery=delivered, delivery_confirmed=True
        )
    shipped = data.shipped_at or data.events.get(SHIPPED)
    if shipped is None:
        return data
    earliest, latest = import_window(data.marketplace, data.purchased_at, shipped)
    return _replace(
        data, earliest_delivery=earliest, latest_delivery=latest, delivery_confirmed=False
    )


def _replace(data: OrderData, **changes) -> OrderData:
    """``dataclasses.replace`` without its per-field introspection: this runs once per
    imported order, and replace's generic path was a tenth of a large import's time."""
    return OrderData(**{**data.__dict__, **changes})
