"""Storing orders from any source: upsert, items, and each event kind exactly once.

Sources report whole orders repeatedly (sync overlap windows, re-imports). ``store``
makes that harmless: the order row is updated in place, items are replaced, and an
event kind already recorded for the order is never recorded again (the database's
UNIQUE(order, kind) is the guard, not a prior read).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field

from peewee import IntegrityError

from .clock import to_naive_utc
from .contracts import EVENT_KINDS, OrderData
from .db import database
from .models import Order, OrderEvent, OrderItem, SellerAccount

log = logging.getLogger(__name__)


class OrderDataError(ValueError):
    """An order a source reported that cannot be stored; names the order and the field."""


@dataclass
class StoreResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_events: int = 0
    changed_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _validate(data: OrderData, known_marketplaces) -> None:
    where = f"order {data.order_id or '(no id)'}"
    if not data.order_id:
        raise OrderDataError(f"{where}: missing order id")
    if known_marketplaces is not None and data.marketplace not in known_marketplaces:
        raise OrderDataError(f"{where}: unknown marketplace {data.marketplace!r}")
    if data.fulfillment not in ("FBA", "FBM"):
        raise OrderDataError(f"{where}: fulfilment {data.fulfillment!r} is not FBA or FBM")
    if data.purchased_at is None:
        raise OrderDataError(f"{where}: missing purchase date")
    for kind in data.events:
        if kind not in EVENT_KINDS:
            raise OrderDataError(f"{where}: unknown event kind {kind!r}")


def _fields(data: OrderData) -> dict:
    """The order row's values from a source. The buyer's locale only when the source
    knows it: order lists carry none (Amazon gives it per order, through getAttributes
    at send time), and a re-sync must neither wipe it nor count that as a change."""
    values = dict(
        marketplace=data.marketplace,
        fulfillment=data.fulfillment,
        status=data.status,
        purchased_at=to_naive_utc(data.purchased_at),
        last_updated_at=to_naive_utc(data.last_updated_at or data.purchased_at),
        shipped_at=to_naive_utc(data.shipped_at),
        earliest_delivery=to_naive_utc(data.earliest_delivery),
        latest_delivery=to_naive_utc(data.latest_delivery),
        delivery_confirmed=data.delivery_confirmed,
        total=data.total,
        currency=data.currency,
        buyer_key=data.buyer_key,
        buyer_email=data.buyer_email,
        buyer_locale=data.buyer_locale,
        ship_country=data.ship_country,
        is_business=data.is_business,
        is_prime=data.is_prime,
        shipped_late=data.shipped_late,
        item_count=sum(i.quantity for i in data.items),
    )
    if not values["buyer_locale"]:
        del values["buyer_locale"]
    return values


def store_one(
    account: SellerAccount, data: OrderData, source: str, known=None
) -> tuple[Order, bool, int]:
    """Upsert one order. Returns (order, changed, number of new events)."""
    _validate(data, known)
    values = _fields(data)
    with database.atomic():
        order = Order.get_or_none((Order.account == account) & (Order.order_id == data.order_id))
        created = order is None
        if created:
            order = Order.create(
                account=account, order_id=data.order_id, is_demo=account.is_demo, **values
            )
            changed = True
        else:
            changed = any(getattr(order, k) != v for k, v in values.items())
            if changed:
                Order.update(**values).where(Order.id == order.id).execute()
                order = Order.get_by_id(order.id)
        if data.items and (created or changed):
            OrderItem.delete().where(OrderItem.order == order).execute()
            OrderItem.insert_many(
                [
                    dict(
                        order=order,
                        sku=i.sku,
                        asin=i.asin,
                        title=i.title,
                        quantity=i.quantity,
                        price=i.price,
                    )
                    for i in data.items
                ]
            ).execute()
        new_events = 0
        for kind, when in data.events.items():
            if when is None:
                continue
            try:
                with database.atomic():
                    OrderEvent.create(
                        order=order, kind=kind, occurred_at=to_naive_utc(when), source=source
                    )
                new_events += 1
            except IntegrityError:
                pass  # already recorded: each kind happens once per order
    return order, changed or new_events > 0, new_events


def store_orders(
    account: SellerAccount, batch: Iterable[OrderData], source: str, known=None
) -> StoreResult:
    """Store a batch; a bad order is reported in ``errors`` and the rest still stored."""
    result = StoreResult()
    for data in batch:
        try:
            existed = (
                Order.select()
                .where((Order.account == account) & (Order.order_id == data.order_id))
                .exists()
            )
            order, changed, new_events = store_one(account, data, source, known)
        except OrderDataError as exc:
            log.warning("skipped order from %s: %s", source, exc)
            result.errors.append(str(exc))
            continue
        result.new_events += new_events
        if not existed:
            result.created += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1
        if changed:
            result.changed_ids.append(order.id)
    return result
