"""Every field the product reads from Amazon, fed with Amazon's own example answers.

The payloads are the ``examples`` and ``x-amzn-api-sandbox`` static responses of
Amazon's models (``shared/sp-api-models``); each test names one field the product uses
and checks what the plugin makes of it, so a mapping that looks for the wrong name
(``BUSINESS`` instead of ``AMAZON_BUSINESS``) fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from plugins.amazon.feedback import document_location, report_id_of, report_state
from plugins.amazon.mapping import from_v0, from_v2026
from plugins.amazon.senders import _actions, buyer_locale, upload_destination
from tests.fake_spapi.schema import MODELS, load

pytestmark = pytest.mark.skipif(not MODELS.is_dir(), reason=f"no models in {MODELS}")

# Marketplace ids of Amazon's examples -> the product's marketplace codes.
CODES = {
    "ATVPDKIKX0DER": "US",
    "A1VC38T7YXB528": "JP",
    "A1F83G8C2ARO7P": "UK",
    "A2Q3Y263D00KWC": "BR",
    "A33AVAJ2PDY3EV": "TR",
}


def examples(model: str, path: str, method: str, status: str) -> list:
    """The example and sandbox answers of one operation and status."""
    if not MODELS.is_dir():
        return []
    answer = load(model)["paths"][path][method]["responses"][status]
    found = list((answer.get("examples") or {}).values())
    found += [c["response"] for c in (answer.get("x-amzn-api-sandbox") or {}).get("static", [])]
    return found


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


V2026 = [
    order
    for answer in examples("orders_2026-01-01.json", "/orders/2026-01-01/orders", "get", "200")
    for order in answer["orders"]
] + [
    answer["order"]
    for answer in examples(
        "orders_2026-01-01.json", "/orders/2026-01-01/orders/{orderId}", "get", "200"
    )
]
V0 = [
    order
    for answer in examples("ordersV0.json", "/orders/v0/orders", "get", "200")
    for order in answer["payload"]["Orders"]
]
V0_ITEMS = [
    item
    for answer in examples("ordersV0.json", "/orders/v0/orders/{orderId}/orderItems", "get", "200")
    for item in answer["payload"]["OrderItems"]
]


def v2026_id(raw):
    return raw["orderId"]


def v0_id(raw):
    return raw["AmazonOrderId"]


def test_the_examples_are_there():
    assert len(V2026) >= 5 and len(V0) >= 3 and V0_ITEMS


# -- Orders v2026-01-01 -------------------------------------------------------------


@pytest.mark.parametrize("raw", V2026, ids=v2026_id)
def test_v2026_order_id_marketplace_and_times(raw):
    order = from_v2026(raw)
    assert order.order_id == raw["orderId"]
    assert order.marketplace == CODES[raw["salesChannel"]["marketplaceId"]]
    assert order.purchased_at == when(raw["createdTime"])
    assert order.last_updated_at == when(raw["lastUpdatedTime"])
    assert order.events["ordered"] == when(raw["createdTime"])


@pytest.mark.parametrize("raw", V2026, ids=v2026_id)
def test_v2026_programs_business_and_prime(raw):
    order = from_v2026(raw)
    programs = raw.get("programs") or []
    assert order.is_business == ("AMAZON_BUSINESS" in programs)
    assert order.is_prime == ("PRIME" in programs)


def test_v2026_examples_include_a_business_order():
    """Amazon's first example is a business order: the mapping must see it."""
    assert any(from_v2026(raw).is_business for raw in V2026)


@pytest.mark.parametrize("raw", V2026, ids=v2026_id)
def test_v2026_fulfillment_and_status(raw):
    order = from_v2026(raw)
    fulfillment = raw.get("fulfillment") or {}
    assert order.fulfillment == ("FBA" if fulfillment.get("fulfilledBy") == "AMAZON" else "FBM")
    wire = fulfillment["fulfillmentStatus"]
    assert order.status == {"SHIPPED": "Shipped", "UNSHIPPED": "Unshipped"}.get(wire, wire)
    if wire == "SHIPPED":
        assert "shipped" in order.events


@pytest.mark.parametrize("raw", V2026, ids=v2026_id)
def test_v2026_items(raw):
    order = from_v2026(raw)
    expected = [
        (
            i["product"].get("sellerSku") or "",
            i["product"].get("asin") or "",
            i["product"].get("title") or "",
            i["quantityOrdered"],
            float(i["product"]["price"]["unitPrice"]["amount"]),
        )
        for i in raw["orderItems"]
    ]
    assert [(i.sku, i.asin, i.title, i.quantity, i.price) for i in order.items] == expected


@pytest.mark.parametrize("raw", V2026, ids=v2026_id)
def test_v2026_total_and_currency_from_proceeds(raw):
    order = from_v2026(raw)
    grand = raw["proceeds"]["grandTotal"]
    assert order.total == pytest.approx(float(grand["amount"]))
    assert order.currency == grand["currencyCode"]


@pytest.mark.parametrize("raw", V2026, ids=v2026_id)
def test_v2026_buyer_relay_address_and_ship_country(raw):
    order = from_v2026(raw)
    email = (raw.get("buyer") or {}).get("buyerEmail") or ""
    assert order.buyer_email == email
    assert bool(order.buyer_key) == bool(email)  # a hash, never the address itself
    assert not email or email not in order.buyer_key
    country = ((raw.get("recipient") or {}).get("deliveryAddress") or {}).get("countryCode", "")
    assert order.ship_country == country


@pytest.mark.parametrize("raw", V2026, ids=v2026_id)
def test_v2026_ship_time_and_delivery(raw):
    order = from_v2026(raw)
    packages = raw.get("packages") or []
    ship_times = [when(p["shipTime"]) for p in packages if p.get("shipTime")]
    assert order.shipped_at == (min(ship_times) if ship_times else None)
    fba = raw["fulfillment"].get("fulfilledBy") == "AMAZON"
    delivered = bool(packages) and all(
        p["packageStatus"]["status"] == "DELIVERED" for p in packages
    )
    window = raw["fulfillment"].get("deliverByWindow")
    if not fba and delivered:
        # package status DELIVERED is a confirmed delivery
        assert order.delivery_confirmed and "delivered" in order.events
    elif not fba and window:
        assert not order.delivery_confirmed and "delivered" not in order.events
        assert order.earliest_delivery == when(window["earliestDateTime"])
        assert order.latest_delivery == when(window["latestDateTime"])
    else:
        # FBA: an estimate from the ship date, never the ship date itself
        assert not order.delivery_confirmed
        if order.shipped_at is not None:
            assert order.earliest_delivery > order.shipped_at


# -- Orders v0 ----------------------------------------------------------------------


@pytest.mark.parametrize("raw", V0, ids=v0_id)
def test_v0_order_fields(raw):
    order = from_v0(raw, V0_ITEMS)
    assert order.order_id == raw["AmazonOrderId"]
    assert order.marketplace == CODES[raw["MarketplaceId"]]
    assert order.status == raw["OrderStatus"]
    assert order.fulfillment == ("FBA" if raw["FulfillmentChannel"] == "AFN" else "FBM")
    assert order.purchased_at == when(raw["PurchaseDate"])
    assert order.last_updated_at == when(raw["LastUpdateDate"])
    assert order.is_business == bool(raw.get("IsBusinessOrder"))
    assert order.is_prime == bool(raw.get("IsPrime"))
    total = raw.get("OrderTotal") or {}
    assert order.total == pytest.approx(float(total.get("Amount") or 0))
    if total:
        assert order.currency == total["CurrencyCode"]
    assert order.ship_country == (raw.get("ShippingAddress") or {}).get("CountryCode", "")
    assert order.buyer_email == (raw.get("BuyerInfo") or {}).get("BuyerEmail", "")


@pytest.mark.parametrize("raw", V0, ids=v0_id)
def test_v0_delivery_dates(raw):
    order = from_v0(raw, V0_ITEMS)
    if raw["FulfillmentChannel"] == "MFN" and raw.get("EarliestDeliveryDate"):
        assert order.earliest_delivery == when(raw["EarliestDeliveryDate"])
        assert order.latest_delivery == when(raw["LatestDeliveryDate"])
    assert not order.delivery_confirmed


def test_v0_items():
    order = from_v0(V0[0], V0_ITEMS)
    assert [(i.sku, i.asin, i.title, i.quantity, i.price) for i in order.items] == [
        (
            i["SellerSKU"],
            i["ASIN"],
            i.get("Title", ""),
            i["QuantityOrdered"],
            float(i["ItemPrice"]["Amount"]),
        )
        for i in V0_ITEMS
    ]


# -- Solicitations, Messaging and Uploads -------------------------------------------


@pytest.mark.parametrize(
    ("model", "path"),
    [
        ("solicitations.json", "/solicitations/v1/orders/{amazonOrderId}"),
        ("messaging.json", "/messaging/v1/orders/{amazonOrderId}"),
    ],
)
def test_offered_action_names(model, path):
    for payload in examples(model, path, "get", "200"):
        names = {a["name"] for a in payload["_links"]["actions"]}
        assert names and _actions(SimpleNamespace(payload=payload)) == names


def test_offered_actions_include_request_a_review():
    [payload, *_] = examples(
        "solicitations.json", "/solicitations/v1/orders/{amazonOrderId}", "get", "200"
    )
    assert "productReviewAndSellerFeedback" in _actions(SimpleNamespace(payload=payload))


def test_buyer_locale_from_get_attributes():
    answers = examples(
        "messaging.json", "/messaging/v1/orders/{amazonOrderId}/attributes", "get", "200"
    )
    assert answers
    for payload in answers:
        assert buyer_locale(payload) == payload["buyer"]["locale"] != ""


def test_upload_destination_id_url_and_headers():
    [payload] = examples(
        "uploads_2020-11-01.json",
        "/uploads/2020-11-01/uploadDestinations/{resource}",
        "post",
        "201",
    )
    destination, url, headers = upload_destination(payload["payload"])
    assert destination == payload["payload"]["uploadDestinationId"]
    assert url == payload["payload"]["url"]
    assert headers == {
        "Content-MD5": payload["payload"]["headers"]["Content-MD5"],
        "x-amz-server-side-encryption": "aws:kms",
    }


# -- Reports (the seller-feedback document flow) ------------------------------------

REPORTS = "reports_2021-06-30.json"


def test_report_id_from_create_report():
    answers = examples(REPORTS, "/reports/2021-06-30/reports", "post", "202")
    assert answers
    for payload in answers:
        assert report_id_of(payload) == payload["reportId"]


def test_report_status_and_document_from_get_report():
    answers = examples(REPORTS, "/reports/2021-06-30/reports/{reportId}", "get", "200")
    assert answers
    for payload in answers:
        assert report_state(payload) == (
            payload["processingStatus"],
            payload.get("reportDocumentId"),
        )


def test_document_url_and_compression_from_get_report_document():
    answers = examples(REPORTS, "/reports/2021-06-30/documents/{reportDocumentId}", "get", "200")
    assert answers
    for payload in answers:
        gzipped = payload.get("compressionAlgorithm") == "GZIP"
        assert document_location(payload) == (payload["url"], gzipped)
