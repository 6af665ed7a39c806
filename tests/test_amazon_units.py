"""Units of the Amazon plugin that need no server: answer mapping and rate limiting."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from plugins.amazon.mapping import MappingError, from_v0, from_v2026
from plugins.amazon.ratelimit import RateLimiter

DE = "A1PA6795UKMFR9"


def v2026(**changes):
    raw = {
        "orderId": "302-1234567-7654321",
        "createdTime": "2026-11-01T10:00:00Z",
        "lastUpdatedTime": "2026-11-05T09:00:00Z",
        "salesChannel": {"channelName": "AMAZON", "marketplaceId": DE},
        "fulfillment": {"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT"},
        "orderItems": [
            {
                "orderItemId": "1",
                "quantityOrdered": 2,
                "product": {
                    "asin": "B0KM000001",
                    "sellerSku": "KM-1",
                    "title": "Kaffeemühle",
                    "price": {"unitPrice": {"amount": "49.90", "currencyCode": "EUR"}},
                },
            }
        ],
        "packages": [
            {
                "packageReferenceId": "p1",
                "shipTime": "2026-11-02T08:00:00Z",
                "packageStatus": {"status": "DELIVERED"},
            }
        ],
        "buyer": {"buyerEmail": "abc123@marketplace.amazon.de"},
    }
    raw.update(changes)
    return raw


def test_fbm_delivered_package_is_a_confirmed_delivery():
    order = from_v2026(v2026())
    assert (order.marketplace, order.fulfillment, order.status) == ("DE", "FBM", "Shipped")
    assert order.delivery_confirmed and "delivered" in order.events
    assert order.events["shipped"] == datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert order.items[0].sku == "KM-1" and order.items[0].quantity == 2
    assert order.total == 99.8 and order.currency == "EUR"
    assert order.buyer_key and "@" not in order.buyer_key


def test_fba_delivery_is_estimated_from_ship_date_plus_transit():
    raw = v2026(fulfillment={"fulfillmentStatus": "SHIPPED", "fulfilledBy": "AMAZON"})
    order = from_v2026(raw, {"DE": 3})
    shipped = datetime(2026, 11, 2, 8, tzinfo=UTC)
    assert not order.delivery_confirmed and "delivered" not in order.events
    assert order.latest_delivery == shipped + timedelta(days=3)
    assert order.latest_delivery != shipped  # never the ship date itself


def test_cancelled_order_gets_a_cancelled_event():
    raw = v2026(
        fulfillment={"fulfillmentStatus": "CANCELLED", "fulfilledBy": "MERCHANT"}, packages=[]
    )
    order = from_v2026(raw)
    assert order.status == "Canceled" and "cancelled" in order.events


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"fulfillment": {"fulfillmentStatus": "LOST_IN_SPACE"}}, "unknown fulfillmentStatus"),
        ({"createdTime": None}, "createdTime is missing"),
        ({"createdTime": "yesterday"}, "is not a date"),
        ({"salesChannel": {"marketplaceId": "NOPE"}}, "unknown marketplaceId"),
        ({"orderId": ""}, "without orderId"),
    ],
)
def test_bad_answers_name_the_order_and_field(changes, message):
    with pytest.raises(MappingError, match=message):
        from_v2026(v2026(**changes))


def test_v0_mapping():
    raw = {
        "AmazonOrderId": "111-1234567-7654321",
        "MarketplaceId": "ATVPDKIKX0DER",
        "OrderStatus": "Shipped",
        "FulfillmentChannel": "MFN",
        "PurchaseDate": "2026-11-01T10:00:00Z",
        "LastUpdateDate": "2026-11-03T10:00:00Z",
        "EarliestDeliveryDate": "2026-11-04T00:00:00Z",
        "LatestDeliveryDate": "2026-11-06T00:00:00Z",
        "OrderTotal": {"Amount": "39.99", "CurrencyCode": "USD"},
        "IsPrime": True,
    }
    items = [
        {
            "SellerSKU": "CB-1",
            "ASIN": "B0CB000001",
            "Title": "Skillet",
            "QuantityOrdered": 1,
            "ItemPrice": {"Amount": "39.99"},
        }
    ]
    order = from_v0(raw, items)
    assert (order.marketplace, order.fulfillment, order.total, order.is_prime) == (
        "US",
        "FBM",
        39.99,
        True,
    )
    assert order.latest_delivery == datetime(2026, 11, 6, tzinfo=UTC)
    assert set(order.events) == {"ordered", "shipped"}
    with pytest.raises(MappingError, match="unknown OrderStatus"):
        from_v0(dict(raw, OrderStatus="Teleported"), items)


class FakeTime:
    def __init__(self):
        self.now = 0.0

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_bucket_allows_the_burst_then_the_rate():
    t = FakeTime()
    limiter = RateLimiter({"op": (1.0, 5)}, clock=t.clock, sleep=t.sleep, safety=1.0)
    waits = [limiter.acquire(1, "op") for _ in range(10)]
    assert waits[:5] == [0.0] * 5
    assert t.now == pytest.approx(5.0)  # 5 more calls at 1/s
    # buckets are per account: another seller has its own burst
    assert limiter.acquire(2, "op") == 0.0


def test_bucket_follows_the_rate_limit_header_and_429():
    t = FakeTime()
    limiter = RateLimiter({"op": (1.0, 1)}, clock=t.clock, sleep=t.sleep, safety=1.0)
    limiter.acquire(1, "op")
    limiter.observe(1, "op", "2.0")
    limiter.acquire(1, "op")
    assert t.now == pytest.approx(0.5)
    limiter.penalise(1, "op")
    limiter.acquire(1, "op")
    assert t.now == pytest.approx(1.0)
    limiter.observe(1, "op", "not-a-number")  # ignored, never crashes


def _answer(method: str, status: int, body: bytes):
    import httpx

    request = httpx.Request(method, "https://sellingpartnerapi-eu.amazon.com/orders/v0/orders")
    return httpx.Response(status, content=body, request=request)


def test_non_json_error_pages_become_the_librarys_exceptions():
    from sp_api.base import SellingApiServerException

    from plugins.amazon.client import check_answer

    # The library alone would read this 500 page as an empty success.
    with pytest.raises(SellingApiServerException) as caught:
        check_answer(_answer("POST", 500, b"<html><h1>500 Internal Server Error</h1></html>"))
    assert caught.value.error[0]["code"] == "HTTP 500"
    assert "Internal Server Error" in caught.value.error[0]["message"]
    # Amazon's own error bodies are left to the library
    check_answer(_answer("GET", 400, b'{"errors": [{"code": "InvalidInput", "message": "x"}]}'))


def test_a_garbled_read_is_malformed_but_a_garbled_accepted_write_is_done():
    from plugins.amazon.client import AmazonError, check_answer

    with pytest.raises(AmazonError) as caught:
        check_answer(_answer("GET", 200, b'{"payload": {"Orders": ['))
    assert caught.value.kind == "malformed" and "not JSON" in str(caught.value)
    with pytest.raises(AmazonError):
        check_answer(_answer("GET", 200, b""))
    check_answer(_answer("POST", 201, b"{garbled"))  # Amazon acted on it: no exception


def test_debug_logs_of_the_library_never_carry_the_access_token(caplog):
    import logging

    import plugins.amazon.client  # noqa: F401 - installs the filter

    caplog.set_level("DEBUG", logger="sp_api.base.client")
    headers = {"host": "x", "x-amz-access-token": "Atza|live-token"}
    logging.getLogger("sp_api.base.client").debug("Request Headers: %s", headers)
    assert "Request Headers" in caplog.text and "Atza|live-token" not in caplog.text


def test_refill_in_says_when_the_bucket_has_a_token_again():
    t = FakeTime()
    limiter = RateLimiter({"op": (0.5, 2)}, clock=t.clock, sleep=t.sleep, safety=1.0)
    assert limiter.refill_in(1, "op") == 0.0  # a full bucket: now
    limiter.acquire(1, "op")
    limiter.acquire(1, "op")
    assert limiter.refill_in(1, "op") == pytest.approx(2.0)
    t.now += 1.5
    assert limiter.refill_in(1, "op") == pytest.approx(0.5)
    limiter.penalise(1, "op")  # after a 429: a full interval from now
    assert limiter.refill_in(1, "op") == pytest.approx(2.0)
    assert limiter.refill_in(2, "op") == 0.0  # another account's bucket is untouched


def test_transient_failures_back_off_per_account_and_operation():
    limiter = RateLimiter({"op": (1.0, 1)})
    assert [limiter.note_failure(1, "op") for _ in range(3)] == [1, 2, 3]
    assert limiter.note_failure(2, "op") == 1 and limiter.note_failure(1, "other") == 1
    limiter.note_success(1, "op")
    assert limiter.note_failure(1, "op") == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (" 3 ", 3.0),
        ("0", 0.0),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_header_in_seconds(value, seconds):
    from sp_api.base import SellingApiRequestThrottledException

    from plugins.amazon.client import retry_after_header

    headers = {} if value is None else {"Retry-After": value}
    exc = SellingApiRequestThrottledException([{"code": "QuotaExceeded"}], headers=headers)
    assert retry_after_header(exc) == seconds


def test_retry_after_header_as_an_http_date_and_in_any_case():
    from email.utils import format_datetime

    import httpx
    from sp_api.base import SellingApiRequestThrottledException

    from core.clock import utcnow
    from plugins.amazon.client import retry_after_header

    when = (utcnow() + timedelta(seconds=90)).replace(tzinfo=UTC)
    headers = httpx.Headers({"retry-after": format_datetime(when, usegmt=True)})
    exc = SellingApiRequestThrottledException([{"code": "QuotaExceeded"}], headers=headers)
    assert 85 <= retry_after_header(exc) <= 91
    assert retry_after_header(SellingApiRequestThrottledException([], headers=None)) is None
