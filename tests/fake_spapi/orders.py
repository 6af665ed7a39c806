"""Orders: seeding, the v2026-01-01 and v0 answer shapes, and their operations.

One internal record per order; each API version renders it in its own shape, so a test
can sync the same orders through ``searchOrders`` or the v0 fallback. Order-level
corruptions (``order["_fault"]``: ``unknown_status``, ``missing_dates``, ``partial``) and
operation-level faults of the same names (first order of the answer) imitate the
answers a real integration sees now and then.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from .http import Reply, Request, error, iso, parse_iso

# marketplace id -> (sales channel name as in reports and v0, currency)
CHANNELS = {
    "ATVPDKIKX0DER": ("Amazon.com", "USD"),
    "A2EUQ1WTGCTBG2": ("Amazon.ca", "CAD"),
    "A1F83G8C2ARO7P": ("Amazon.co.uk", "GBP"),
    "A1PA6795UKMFR9": ("Amazon.de", "EUR"),
    "A13V1IB3VIYZZH": ("Amazon.fr", "EUR"),
    "APJ6JRA9NG5V4": ("Amazon.it", "EUR"),
    "A1RKKUPIHCS9HS": ("Amazon.es", "EUR"),
    "A1805IZSGTT6HS": ("Amazon.nl", "EUR"),
    "A1VC38T7YXB528": ("Amazon.co.jp", "JPY"),
}
# marketplace id -> (country code, default language) as the Sellers API reports them
SELLER_MARKETS = {
    "ATVPDKIKX0DER": ("US", "en_US"),
    "A2EUQ1WTGCTBG2": ("CA", "en_CA"),
    "A1F83G8C2ARO7P": ("GB", "en_GB"),
    "A1PA6795UKMFR9": ("DE", "de_DE"),
    "A13V1IB3VIYZZH": ("FR", "fr_FR"),
    "APJ6JRA9NG5V4": ("IT", "it_IT"),
    "A1RKKUPIHCS9HS": ("ES", "es_ES"),
    "A1805IZSGTT6HS": ("NL", "nl_NL"),
    "A1VC38T7YXB528": ("JP", "ja_JP"),
}
V0_STATUS = {
    "PENDING_AVAILABILITY": "PendingAvailability",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
    "UNFULFILLABLE": "Unfulfillable",
}
_cursor_ids = itertools.count(1)


def make_order(
    order_id: str,
    *,
    marketplace_id: str = "A1PA6795UKMFR9",
    fulfilled_by: str = "MERCHANT",
    status: str = "SHIPPED",
    delivered_days_ago: float | None = 7,
    asin: str = "B0FAKE0001",
    sku: str = "SKU-1",
    title: str = "Lamp",
    quantity: int = 1,
    price: float = 24.90,
    locale: str | None = None,
    buyer_email: str | None = None,
    ship_country: str = "",
    items: list[dict] | None = None,
    messaging: tuple[str, ...] | None = None,
    delivery_window_days_ago: tuple[float, float] | None = None,
    programs: tuple[str, ...] = (),
    now: datetime | None = None,
) -> dict:
    """The internal record of one order (see the module doc).

    ``delivery_window_days_ago`` = (earliest, latest) delivery estimate, days ago; by
    default both are the delivery day. ``messaging`` restricts the Messaging actions
    Amazon offers (action names); None offers all. ``programs``: Amazon's order programs
    (``AMAZON_BUSINESS``, ``PRIME``...), sent as v2026's ``programs`` and v0's
    ``IsBusinessOrder``/``IsPrime``.
    """
    now = now or datetime.now(UTC)
    delivered = None
    if status in ("SHIPPED", "PARTIALLY_SHIPPED") and delivered_days_ago is not None:
        delivered = now - timedelta(days=delivered_days_ago)
    anchor = delivered or now - timedelta(days=2)
    created = anchor - timedelta(days=3)
    shipped = (anchor - timedelta(days=1)) if status in ("SHIPPED", "PARTIALLY_SHIPPED") else None
    earliest = latest = delivered
    if delivery_window_days_ago is not None:
        earliest = now - timedelta(days=delivery_window_days_ago[0])
        latest = now - timedelta(days=delivery_window_days_ago[1])
    name, currency = CHANNELS.get(marketplace_id, ("Amazon.de", "EUR"))
    lang = {"Amazon.de": "de-DE", "Amazon.fr": "fr-FR", "Amazon.it": "it-IT"}.get(name, "en-GB")
    return {
        "orderId": order_id,
        "marketplaceId": marketplace_id,
        "fulfilledBy": fulfilled_by,
        "status": status,
        "created": created,
        "updated": delivered or created,
        "shipped": shipped,
        "delivered": delivered if delivered and delivered <= now else None,
        "earliest": earliest,
        "latest": latest,
        "items": items
        or [
            {
                "orderItemId": "1",
                "asin": asin,
                "sku": sku,
                "title": title,
                "quantity": quantity,
                "price": price,
            }
        ],
        "currency": currency,
        "channel": name,
        "locale": locale or lang,
        "buyer_email": buyer_email or f"{order_id.replace('-', '')}@marketplace.amazon.de",
        "ship_country": ship_country,
        "messaging": messaging,
        "programs": list(programs),
        "_fault": None,
    }


def touch(order: dict, **changes) -> None:
    """Change an order the way Amazon does: new state, lastUpdatedTime now."""
    order.update(changes)
    order["updated"] = datetime.now(UTC)


def _corrupt(shape: dict, fault: str | None, version: str) -> dict:
    if not fault:
        return shape
    shape = dict(shape)
    if fault == "unknown_status":
        if version == "v0":
            shape["OrderStatus"] = "Teleported"
        else:
            shape["fulfillment"] = dict(shape.get("fulfillment") or {})
            shape["fulfillment"]["fulfillmentStatus"] = "TELEPORTED"
    elif fault == "missing_dates":
        for key in ("createdTime", "lastUpdatedTime", "PurchaseDate", "LastUpdateDate"):
            shape.pop(key, None)
    elif fault == "partial":
        for key in ("salesChannel", "MarketplaceId", "fulfillment", "FulfillmentChannel"):
            shape.pop(key, None)
    return shape


def render_v2026(order: dict, included: set[str], fault: str | None = None) -> dict:
    """An ``Order`` of orders_2026-01-01.json with the requested ``includedData``."""
    shape: dict = {
        "orderId": order["orderId"],
        "createdTime": iso(order["created"]),
        "lastUpdatedTime": iso(order["updated"]),
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": order["marketplaceId"],
            "marketplaceName": order["channel"],
        },
        "orderItems": [
            {
                "orderItemId": i["orderItemId"],
                "quantityOrdered": i["quantity"],
                "product": {
                    "asin": i["asin"],
                    "sellerSku": i["sku"],
                    "title": i["title"],
                    "price": {
                        "unitPrice": {
                            "amount": f"{i['price']:.2f}",
                            "currencyCode": order["currency"],
                        }
                    },
                },
            }
            for i in order["items"]
        ],
    }
    if order["programs"]:
        shape["programs"] = list(order["programs"])
    if "FULFILLMENT" in included:
        shape["fulfillment"] = {
            "fulfillmentStatus": order["status"],
            "fulfilledBy": order["fulfilledBy"],
            "fulfillmentServiceLevel": "STANDARD",
        }
        if order["fulfilledBy"] == "MERCHANT" and order["earliest"] is not None:
            shape["fulfillment"]["deliverByWindow"] = {
                "earliestDateTime": iso(order["earliest"]),
                "latestDateTime": iso(order["latest"]),
            }
    if "PACKAGES" in included and order["shipped"] is not None:
        shape["packages"] = [
            {
                "packageReferenceId": "1",
                "shipTime": iso(order["shipped"]),
                "packageStatus": {"status": "DELIVERED" if order["delivered"] else "IN_TRANSIT"},
            }
        ]
    if "PROCEEDS" in included:
        total = sum(i["price"] * i["quantity"] for i in order["items"])
        shape["proceeds"] = {
            "grandTotal": {"amount": f"{total:.2f}", "currencyCode": order["currency"]}
        }
    if "BUYER" in included:
        shape["buyer"] = {"buyerEmail": order["buyer_email"]}
    if "RECIPIENT" in included and order["ship_country"]:
        shape["recipient"] = {"deliveryAddress": {"countryCode": order["ship_country"]}}
    return _corrupt(shape, fault or order["_fault"], "v2026")


def render_v0(order: dict, fault: str | None = None) -> dict:
    """An ``Order`` of ordersV0.json."""
    total = sum(i["price"] * i["quantity"] for i in order["items"])
    shape = {
        "AmazonOrderId": order["orderId"],
        "PurchaseDate": iso(order["created"]),
        "LastUpdateDate": iso(order["updated"]),
        "OrderStatus": V0_STATUS[order["status"]],
        "FulfillmentChannel": "AFN" if order["fulfilledBy"] == "AMAZON" else "MFN",
        "SalesChannel": order["channel"],
        "MarketplaceId": order["marketplaceId"],
        "OrderTotal": {"CurrencyCode": order["currency"], "Amount": f"{total:.2f}"},
        "IsBusinessOrder": "AMAZON_BUSINESS" in order["programs"],
        "IsPrime": "PRIME" in order["programs"],
    }
    if order["earliest"] is not None:
        shape["EarliestDeliveryDate"] = iso(order["earliest"])
        shape["LatestDeliveryDate"] = iso(order["latest"])
    return _corrupt(shape, fault or order["_fault"], "v0")


def render_v0_item(order: dict, item: dict) -> dict:
    return {
        "ASIN": item["asin"],
        "SellerSKU": item["sku"],
        "OrderItemId": item["orderItemId"],
        "Title": item["title"],
        "QuantityOrdered": item["quantity"],
        "ItemPrice": {"CurrencyCode": order["currency"], "Amount": f"{item['price']:.2f}"},
    }


def _select(fake, req: Request, after_names: tuple[str, str], market_param: str):
    """Order ids matching a first-page query, oldest update first, or an error Reply."""
    created_name, updated_name = after_names
    created, updated = req.qget(created_name), req.qget(updated_name)
    if bool(created) == bool(updated):
        return error(
            400, "InvalidInput", f"exactly one of {created_name} and {updated_name} is required"
        )
    try:
        since = parse_iso(created or updated or "")
    except ValueError:
        return error(400, "InvalidInput", f"{created_name or updated_name} is not ISO 8601")
    markets = set(req.qlist(market_param))
    if not markets and market_param == "MarketplaceIds":
        return error(400, "InvalidInput", "MarketplaceIds is required")
    foreign = _foreign(fake, markets)
    if foreign:
        return foreign
    field = "created" if created else "updated"
    with fake.lock:
        chosen = [
            o
            for o in fake.orders.values()
            if o[field] >= since and (not markets or o["marketplaceId"] in markets)
        ]
    chosen.sort(key=lambda o: (o["updated"], o["orderId"]))
    return [o["orderId"] for o in chosen]


def _foreign(fake, markets) -> Reply | None:
    """Amazon's answer when a marketplace is not one the seller sells in."""
    allowed = fake.seller_marketplaces
    bad = sorted(m for m in markets if allowed is not None and m not in allowed)
    if bad:
        return error(
            400, "InvalidInput", f"Invalid marketplace(s) for this seller: {', '.join(bad)}"
        )
    return None


def marketplace_participations(fake, req: Request) -> Reply:
    """GET /sellers/v1/marketplaceParticipations: where the seller sells."""
    ids = fake.seller_marketplaces if fake.seller_marketplaces is not None else set(CHANNELS)
    payload = []
    for mid in sorted(ids):
        name, currency = CHANNELS.get(mid, ("Amazon.com", "USD"))
        country, language = SELLER_MARKETS.get(mid, ("US", "en_US"))
        payload.append(
            {
                "marketplace": {
                    "id": mid,
                    "name": name,
                    "countryCode": country,
                    "defaultCurrencyCode": currency,
                    "defaultLanguageCode": language,
                    "domainName": name.lower().replace("amazon", "www.amazon"),
                },
                "participation": {"isParticipating": True, "hasSuspendedListings": False},
                "storeName": "Fake SP-API Store",
            }
        )
    return Reply(200, {"payload": payload})


def _page(fake, req: Request, token_name: str, ids_or_error, limit: int):
    """(page of ids, next token) over a stored snapshot, like Amazon's opaque tokens."""
    token = req.qget(token_name)
    if token:
        with fake.lock:
            cursor = fake.cursors.get(token)
        if cursor is None:
            return error(400, "InvalidInput", f"{token_name} is invalid or expired"), None
        ids, start = cursor
        if fake.repeat_tokens:
            if _repeat(fake, token):
                return ids[start : start + limit], token
            return error(400, "InvalidInput", f"{token_name} is invalid or expired"), None
    else:
        if isinstance(ids_or_error, Reply):
            return ids_or_error, None
        ids, start = ids_or_error, 0
    page = ids[start : start + limit]
    next_token = None
    if start + limit < len(ids):
        next_token = f"tok{next(_cursor_ids)}-{len(ids)}"
        with fake.lock:
            fake.cursors[next_token] = (ids, start + limit)
    return page, next_token


def _repeat(fake, token: str) -> bool:
    """``fake.repeat_tokens``: a page asked for with a token answers that same token as
    its next one (a looping Amazon), ``REPEAT_LIMIT`` times, then 400 so that a client
    that follows it forever fails instead of hanging the test."""
    if not fake.repeat_tokens:
        return False
    with fake.lock:
        fake.token_repeats[token] += 1
        return fake.token_repeats[token] <= REPEAT_LIMIT


REPEAT_LIMIT = 5


def _limit(fake, req: Request, name: str) -> int:
    try:
        asked = int(req.qget(name) or 100)
    except ValueError:
        asked = 100
    return max(1, min(asked, 100, fake.page_size))


def search_orders(fake, req: Request) -> Reply:
    """GET /orders/2026-01-01/orders (searchOrders)."""
    included = set(req.qlist("includedData"))
    selected = (
        None
        if req.qget("paginationToken")
        else _select(fake, req, ("createdAfter", "lastUpdatedAfter"), "marketplaceIds")
    )
    page, token = _page(
        fake, req, "paginationToken", selected, _limit(fake, req, "maxResultsPerPage")
    )
    if isinstance(page, Reply):
        return page
    orders = []
    for n, oid in enumerate(page):
        orders.append(render_v2026(fake.orders[oid], included, req.fault if n == 0 else None))
    body: dict = {"orders": orders}
    if token:
        body["pagination"] = {"nextToken": token}
    return Reply(200, body, broken=_any_fault(fake, page))


def get_order_2026(fake, req: Request) -> Reply:
    """GET /orders/2026-01-01/orders/{orderId}."""
    order = fake.orders.get(req.params["orderId"])
    if order is None:
        return error(404, "NotFound", f"order {req.params['orderId']} not found")
    shape = render_v2026(order, set(req.qlist("includedData")), req.fault)
    return Reply(200, {"order": shape}, broken=bool(order["_fault"]))


def get_orders_v0(fake, req: Request) -> Reply:
    """GET /orders/v0/orders (getOrders)."""
    selected = (
        None
        if req.qget("NextToken")
        else _select(fake, req, ("CreatedAfter", "LastUpdatedAfter"), "MarketplaceIds")
    )
    page, token = _page(fake, req, "NextToken", selected, _limit(fake, req, "MaxResultsPerPage"))
    if isinstance(page, Reply):
        return page
    payload: dict = {
        "Orders": [
            render_v0(fake.orders[oid], req.fault if n == 0 else None) for n, oid in enumerate(page)
        ]
    }
    if token:
        payload["NextToken"] = token
    return Reply(200, {"payload": payload}, broken=_any_fault(fake, page))


def get_order_v0(fake, req: Request) -> Reply:
    """GET /orders/v0/orders/{orderId}."""
    order = fake.orders.get(req.params["orderId"])
    if order is None:
        return error(404, "NotFound", f"order {req.params['orderId']} not found")
    return Reply(200, {"payload": render_v0(order, req.fault)}, broken=bool(order["_fault"]))


def get_order_items_v0(fake, req: Request) -> Reply:
    """GET /orders/v0/orders/{orderId}/orderItems, paginated by ``items_page_size``."""
    order = fake.orders.get(req.params["orderId"])
    if order is None:
        return error(404, "NotFound", f"order {req.params['orderId']} not found")
    start = 0
    token = req.qget("NextToken")
    if token:
        try:
            start = int(token.removeprefix("items-"))
        except ValueError:
            return error(400, "InvalidInput", "NextToken is invalid")
        if fake.repeat_tokens and not _repeat(fake, token):
            return error(400, "InvalidInput", "NextToken is invalid or expired")
    size = fake.items_page_size
    chunk = order["items"][start : start + size]
    payload: dict = {
        "AmazonOrderId": order["orderId"],
        "OrderItems": [render_v0_item(order, i) for i in chunk],
    }
    if start + size < len(order["items"]):
        payload["NextToken"] = f"items-{start + size}"
    if token and fake.repeat_tokens:
        payload["NextToken"] = token
    return Reply(200, {"payload": payload})


def _any_fault(fake, page: list[str]) -> bool:
    """Whether an order of the page is corrupted on purpose (``order["_fault"]``)."""
    return any(fake.orders[oid]["_fault"] for oid in page)


def order_id_of(req: Request) -> str:
    return req.params.get("orderId") or req.params.get("amazonOrderId") or ""


def seed(fake, count: int, *, marketplace_id: str = "A1PA6795UKMFR9") -> list[str]:
    """``count`` varied orders (FBM/FBA, delivered days ago 1..40, a few cancelled)."""
    ids = []
    for n in range(count):
        oid = f"302-{1000000 + n:07d}-{(n * 7919) % 10000000:07d}"
        status = "CANCELLED" if n % 11 == 10 else ("UNSHIPPED" if n % 13 == 12 else "SHIPPED")
        fake.add_order(
            oid,
            marketplace_id=marketplace_id,
            fulfilled_by="AMAZON" if n % 3 == 2 else "MERCHANT",
            status=status,
            delivered_days_ago=1 + (n * 3) % 40,
            asin=f"B0FAKE{n % 5:04d}",
            sku=f"SKU-{n % 5}",
            title=("Lamp", "Kettle", "Grinder", "Skillet", "Mug")[n % 5],
            quantity=1 + n % 2,
            programs=("AMAZON_BUSINESS",) * (n % 7 == 3) + ("PRIME",) * (n % 4 == 0),
        )
        ids.append(oid)
    return ids
