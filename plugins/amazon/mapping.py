"""Orders API answers (v2026-01-01 and v0) -> ``OrderData``.

Statuses map to order events exactly once each (the store's UNIQUE(order, kind) keeps
repeats harmless). Delivery: an FBM package with status DELIVERED is a *confirmed*
delivery; FBA orders carry no delivery date, so it is *estimated* as the ship date plus
the marketplace's transit days (docs/amazon-rules.md §4: never the ship date itself).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from core import ItemData, OrderData, transit_days

from .marketplaces import BY_ID

# Transit days per marketplace for FBA delivery estimates: core's table (plugin setting
# "transit_days" overrides); cross-border orders add CROSS_BORDER_EXTRA.
CROSS_BORDER_EXTRA = 4

V2026_STATUS = {
    "PENDING_AVAILABILITY": "Pending",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
V0_STATUSES = {
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "Canceled",
    "Unfulfillable",
    "InvoiceUnconfirmed",
    "PendingAvailability",
}


class MappingError(ValueError):
    """An API answer that cannot become an order; names the order and the field."""


def parse_time(value: str | None, order_id: str, field: str, required: bool = False):
    if not value:
        if required:
            raise MappingError(f"order {order_id}: {field} is missing")
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise MappingError(f"order {order_id}: {field} {value!r} is not a date") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def buyer_key(order_id: str, email: str | None) -> str:
    """A stable buyer identity without storing PII: a hash of the relay address."""
    return hashlib.sha256(email.lower().encode()).hexdigest()[:24] if email else ""


def estimate(shipped: datetime | None, code: str, ship_country: str, transit: dict) -> tuple:
    if shipped is None:
        return None, None
    days = transit.get(code, transit_days(code))
    mkt_country = {"UK": "GB"}.get(code, code)
    if ship_country and ship_country != mkt_country:
        days += CROSS_BORDER_EXTRA
    return shipped + timedelta(days=max(1, days - 1)), shipped + timedelta(days=days)


def from_v2026(raw: dict, transit: dict | None = None) -> OrderData:
    """One order of searchOrders (includedData FULFILLMENT, PACKAGES)."""
    order_id = raw.get("orderId") or ""
    if not order_id:
        raise MappingError("an order without orderId")
    mid = (raw.get("salesChannel") or {}).get("marketplaceId", "")
    mkt = BY_ID.get(mid)
    if mkt is None:
        raise MappingError(f"order {order_id}: unknown marketplaceId {mid!r}")
    fulfillment = raw.get("fulfillment") or {}
    status_raw = fulfillment.get("fulfillmentStatus", "")
    if status_raw not in V2026_STATUS:
        raise MappingError(f"order {order_id}: unknown fulfillmentStatus {status_raw!r}")
    status = V2026_STATUS[status_raw]
    created = parse_time(raw.get("createdTime"), order_id, "createdTime", True)
    updated = parse_time(raw.get("lastUpdatedTime"), order_id, "lastUpdatedTime", True)
    fba = fulfillment.get("fulfilledBy") == "AMAZON"
    packages = raw.get("packages") or []
    ship_times = [parse_time(p.get("shipTime"), order_id, "packages.shipTime") for p in packages]
    shipped = min((t for t in ship_times if t), default=None)
    statuses = [(p.get("packageStatus") or {}).get("status") for p in packages]
    delivered_all = bool(packages) and all(s == "DELIVERED" for s in statuses)
    items = []
    total = 0.0
    currency = mkt.currency
    for item in raw.get("orderItems") or []:
        product = item.get("product") or {}
        price = (product.get("price") or {}).get("unitPrice") or {}
        amount = float(price.get("amount") or 0)
        currency = price.get("currencyCode") or currency
        quantity = int(item.get("quantityOrdered") or 1)
        total += amount * quantity
        items.append(
            ItemData(
                product.get("sellerSku") or "",
                product.get("asin") or "",
                product.get("title") or "",
                quantity,
                amount,
            )
        )
    grand = (raw.get("proceeds") or {}).get("grandTotal") or {}
    if grand.get("amount") is not None:
        total = float(grand["amount"])
        currency = grand.get("currencyCode") or currency
    ship_country = ((raw.get("recipient") or {}).get("deliveryAddress") or {}).get(
        "countryCode", ""
    )
    events = {"ordered": created}
    earliest = latest = None
    confirmed = False
    if status == "Canceled":
        events["cancelled"] = updated
    if shipped is not None or status == "Shipped":
        events["shipped"] = shipped or updated
    window = fulfillment.get("deliverByWindow") or {}
    if not fba and delivered_all:
        # Package status DELIVERED is the only confirmed delivery Amazon reports.
        delivered_at = updated
        events["delivered"] = delivered_at
        earliest = latest = delivered_at
        confirmed = True
    elif not fba and window:
        earliest = parse_time(window.get("earliestDateTime"), order_id, "deliverByWindow")
        latest = parse_time(window.get("latestDateTime"), order_id, "deliverByWindow")
    elif fba:
        earliest, latest = estimate(
            shipped or events.get("shipped"), mkt.code, ship_country, transit or {}
        )
    email = (raw.get("buyer") or {}).get("buyerEmail")
    return OrderData(
        order_id=order_id,
        marketplace=mkt.code,
        fulfillment="FBA" if fba else "FBM",
        status=status,
        purchased_at=created,
        last_updated_at=updated,
        items=tuple(items),
        total=round(total, 2),
        currency=currency,
        buyer_key=buyer_key(order_id, email),
        buyer_email=email or "",
        ship_country=ship_country,
        # Amazon's program names (orders model ``programs``): AMAZON_BUSINESS, PRIME...
        is_business="AMAZON_BUSINESS" in (raw.get("programs") or []),
        is_prime="PRIME" in (raw.get("programs") or []),
        shipped_at=shipped,
        earliest_delivery=earliest,
        latest_delivery=latest,
        delivery_confirmed=confirmed,
        events=events,
    )


def from_v0(raw: dict, raw_items: list[dict], transit: dict | None = None) -> OrderData:
    """One order of getOrders plus its getOrderItems answer."""
    order_id = raw.get("AmazonOrderId") or ""
    if not order_id:
        raise MappingError("an order without AmazonOrderId")
    mkt = BY_ID.get(raw.get("MarketplaceId", ""))
    if mkt is None:
        raise MappingError(f"order {order_id}: unknown MarketplaceId {raw.get('MarketplaceId')!r}")
    status = raw.get("OrderStatus", "")
    if status not in V0_STATUSES:
        raise MappingError(f"order {order_id}: unknown OrderStatus {status!r}")
    created = parse_time(raw.get("PurchaseDate"), order_id, "PurchaseDate", True)
    updated = parse_time(raw.get("LastUpdateDate"), order_id, "LastUpdateDate", True)
    fba = raw.get("FulfillmentChannel") == "AFN"
    events = {"ordered": created}
    if status == "Canceled":
        events["cancelled"] = updated
    shipped = None
    if status in ("Shipped", "PartiallyShipped"):
        # v0 has no ship time; the last update is when it became shipped at the latest.
        shipped = updated
        events["shipped"] = updated
    ship_country = (raw.get("ShippingAddress") or {}).get("CountryCode", "")
    if fba:
        earliest, latest = estimate(shipped, mkt.code, ship_country, transit or {})
    else:
        earliest = parse_time(raw.get("EarliestDeliveryDate"), order_id, "EarliestDeliveryDate")
        latest = parse_time(raw.get("LatestDeliveryDate"), order_id, "LatestDeliveryDate")
    items = tuple(
        ItemData(
            i.get("SellerSKU") or "",
            i.get("ASIN") or "",
            i.get("Title") or "",
            int(i.get("QuantityOrdered") or 1),
            float((i.get("ItemPrice") or {}).get("Amount") or 0),
        )
        for i in raw_items
    )
    total = raw.get("OrderTotal") or {}
    email = (raw.get("BuyerInfo") or {}).get("BuyerEmail")
    return OrderData(
        order_id=order_id,
        marketplace=mkt.code,
        fulfillment="FBA" if fba else "FBM",
        status=status,
        purchased_at=created,
        last_updated_at=updated,
        items=items,
        total=float(total.get("Amount") or 0),
        currency=total.get("CurrencyCode") or mkt.currency,
        buyer_key=buyer_key(order_id, email),
        buyer_email=email or "",
        ship_country=ship_country,
        is_business=bool(raw.get("IsBusinessOrder")),
        is_prime=bool(raw.get("IsPrime")),
        shipped_at=shipped,
        earliest_delivery=earliest,
        latest_delivery=latest,
        delivery_confirmed=False,
        events=events,
    )
