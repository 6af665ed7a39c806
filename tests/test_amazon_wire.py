"""What the plugin puts on the wire and reads back, end to end against the fake SP-API
(which checks every request and answer against Amazon's models): business orders, the
buyer's locale across re-syncs, ``contentMD5`` encoded once, pagination tokens that
repeat, no body on the POSTs Amazon's models define without one, HAL answers, upload
headers as Amazon's example and the Sellers answer's required fields."""

from __future__ import annotations

import base64
import hashlib

import httpx
import pytest

from core import Attachment, hookimpl
from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import Message, Order, OrderItem, SellerAccount
from core.planning import plan_orders
from core.sync import sync_account
from plugins.amazon.senders import messaging_prepare
from plugins.amazon.source import check_connection
from tests.fake_spapi.auth import access_token_for
from tests.fake_spapi.harness import amazon_settings, connect, messaging_step, review_step
from tests.fake_spapi.orders import REPEAT_LIMIT

pytestmark = pytest.mark.usefixtures("fresh_limiter")

DE = "A1PA6795UKMFR9"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
MD5 = base64.b64encode(hashlib.md5(PDF).digest()).decode()
IDS = [f"302-8100000-{n:07d}" for n in range(1, 6)]


def setup(make_engine, fake, **settings):
    engine = make_engine(plugin_settings=amazon_settings(fake, **settings))
    return engine, connect(engine)


class Invoice:
    @hookimpl
    def message_attachments(self, engine, order, message, step):
        return [Attachment("invoice.pdf", "application/pdf", PDF, kind="invoice")]


def send_due(engine):
    Message.update(due_at=utcnow()).where(Message.state.in_(("scheduled", "retry"))).execute()
    dispatch_due(engine)


# -- business and Prime orders -------------------------------------------------------


@pytest.mark.parametrize("api", ["2026-01-01", "v0"])
def test_business_and_prime_orders_are_flagged(make_engine, fake, api):
    fake.add_order(IDS[0], programs=("AMAZON_BUSINESS", "PRIME"))
    fake.add_order(IDS[1], programs=("PRIME",))
    fake.add_order(IDS[2])
    engine, account = setup(make_engine, fake, orders_api=api)
    assert not sync_account(engine, account.id).errors
    flags = {o.order_id: (o.is_business, o.is_prime) for o in Order.select()}
    assert flags == {IDS[0]: (True, True), IDS[1]: (False, True), IDS[2]: (False, False)}


# -- the buyer's locale survives a re-sync --------------------------------------------


def test_a_resync_keeps_the_buyer_locale_and_counts_nothing_updated(make_engine, fake):
    fake.add_order(IDS[0], locale="fr-FR")
    engine, account = setup(make_engine, fake)
    assert sync_account(engine, account.id).created == 1
    order = Order.get()
    messaging_step("createConfirmDeliveryDetails", {"de": "Bestellung {{ order_id }}"})
    assert messaging_prepare(engine, Message(order=order), order) is None  # getAttributes
    assert Order.get().buyer_locale == "fr-FR"
    again = sync_account(engine, account.id)  # the overlap window reads the order again
    assert again.updated == 0 and again.changed_ids == []
    assert Order.get().buyer_locale == "fr-FR"
    fake.touch(IDS[0], status="SHIPPED")  # a real change on Amazon's side
    later = sync_account(engine, account.id)
    assert later.updated == 1
    assert Order.get().buyer_locale == "fr-FR"


# -- contentMD5 and the body-less POSTs -------------------------------------------------


def test_upload_sends_content_md5_once_encoded_and_no_body(make_engine, fake):
    fake.add_order(IDS[0])
    engine = make_engine(plugin_settings=amazon_settings(fake), extra_plugins=[("i", Invoice())])
    account = connect(engine)
    messaging_step("sendInvoice", {"de": "Rechnung {{ order_id }}"})
    result = sync_account(engine, account.id)
    plan_orders(engine, result.changed_ids)
    send_due(engine)
    assert Message.get().state == "sent", (Message.get().error, fake.violations)
    [upload] = fake.calls_of("createUploadDestinationForResource")
    assert upload.query["contentMD5"] == [MD5]  # decoded once by the server: the digest
    assert upload.body is None
    [destination] = fake.uploads.values()
    assert destination["data"] == PDF


def test_the_fake_refuses_a_twice_encoded_md5_and_any_body(fake):
    fake.add_order(IDS[0])
    path = f"/uploads/2020-11-01/uploadDestinations/messaging/v1/orders/{IDS[0]}/messages/invoice"
    headers = {"x-amz-access-token": access_token_for("good-refresh-token")}
    twice = httpx.post(
        fake.url + path,
        params={"marketplaceIds": DE, "contentMD5": MD5.replace("=", "%3D")},
        headers=headers,
    )
    assert twice.status_code == 400 and "encoded twice" in twice.text
    with_body = httpx.post(
        fake.url + path,
        params={"marketplaceIds": DE, "contentMD5": MD5},
        json={"marketplaceIds": [DE]},
        headers=headers,
    )
    assert with_body.status_code == 415
    review = httpx.post(
        f"{fake.url}/solicitations/v1/orders/{IDS[0]}/solicitations/productReviewAndSellerFeedback",
        params={"marketplaceIds": DE},
        json={"marketplaceIds": [DE]},
        headers=headers,
    )
    assert review.status_code == 415 and not fake.solicited
    assert any("where the model defines none" in v for v in fake.violations)
    fake.violations.clear()  # this test's own doing


def test_request_a_review_posts_without_a_body(make_engine, fake):
    fake.add_order(IDS[0], delivered_days_ago=7)
    engine, account = setup(make_engine, fake)
    review_step()
    result = sync_account(engine, account.id)
    plan_orders(engine, result.changed_ids)
    send_due(engine)
    assert Message.get().state == "sent", Message.get().error
    [post] = fake.calls_of("createProductReviewAndSellerFeedbackSolicitation")
    assert post.body is None and post.query == {"marketplaceIds": [DE]}
    assert fake.solicited[IDS[0]] == 1


# -- answers shaped as Amazon's models say ----------------------------------------------


def test_solicitations_and_messaging_answer_hal_json(fake):
    fake.add_order(IDS[0])
    headers = {"x-amz-access-token": access_token_for("good-refresh-token")}
    for path in (f"/solicitations/v1/orders/{IDS[0]}", f"/messaging/v1/orders/{IDS[0]}"):
        answer = httpx.get(fake.url + path, params={"marketplaceIds": DE}, headers=headers)
        assert answer.headers["content-type"] == "application/hal+json"
    orders = httpx.get(
        fake.url + "/orders/2026-01-01/orders",
        params={"marketplaceIds": DE, "lastUpdatedAfter": "2020-01-01T00:00:00Z"},
        headers=headers,
    )
    assert orders.headers["content-type"] == "application/json"


def test_upload_destination_headers_are_amazons(fake):
    fake.add_order(IDS[0])
    answer = httpx.post(
        f"{fake.url}/uploads/2020-11-01/uploadDestinations/messaging/v1/orders/{IDS[0]}"
        "/messages/invoice",
        params={"marketplaceIds": DE, "contentMD5": MD5, "contentType": "application/pdf"},
        headers={"x-amz-access-token": access_token_for("good-refresh-token")},
    ).json()["payload"]
    assert answer["headers"] == {"Content-MD5": MD5, "x-amz-server-side-encryption": "aws:kms"}
    assert httpx.put(answer["url"], content=PDF).status_code == 403  # headers left out
    assert httpx.put(answer["url"], content=PDF, headers=answer["headers"]).status_code == 200


def test_test_connection_reads_a_complete_sellers_answer(make_engine, fake):
    fake.seller_marketplaces = {DE}
    engine, account = setup(make_engine, fake)
    assert check_connection(engine, account) is None
    [market] = httpx.get(
        fake.url + "/sellers/v1/marketplaceParticipations",
        headers={"x-amz-access-token": access_token_for("good-refresh-token")},
    ).json()["payload"]
    assert market["marketplace"] == {
        "id": DE,
        "name": "Amazon.de",
        "countryCode": "DE",
        "defaultCurrencyCode": "EUR",
        "defaultLanguageCode": "de_DE",
        "domainName": "www.amazon.de",
    }


# -- pagination tokens that come back ---------------------------------------------------


def _looping_status(account) -> tuple[str, str]:
    row = SellerAccount.get_by_id(account.id)
    return row.status, row.status_message


@pytest.mark.parametrize(
    ("api", "operation"), [("2026-01-01", "searchOrders"), ("v0", "getOrders")]
)
def test_a_repeated_pagination_token_stops_with_an_account_warning(
    make_engine, fake, api, operation
):
    for oid in IDS:
        fake.add_order(oid)
    fake.repeat_tokens = True
    engine, account = setup(make_engine, fake, orders_api=api)
    result = sync_account(engine, account.id)
    # page 1 (a token), page 2 asked with it answers the same token: stop there
    assert fake.count(operation) == 2 < REPEAT_LIMIT
    assert {o.order_id for o in Order.select()} == set(IDS[:4])  # both pages stored
    assert result.created == 4
    state, text = _looping_status(account)
    assert state == "error" and "repeated the pagination token" in text, text
    assert operation in text and "next sync" in text


def test_a_repeated_order_items_token_stops_too(make_engine, fake):
    items = [
        {"orderItemId": str(n), "asin": f"B0{n}", "sku": f"S{n}", "title": "Mug", "quantity": 1}
        for n in range(1, 5)
    ]
    fake.add_order(IDS[0], items=[dict(i, price=2.0) for i in items])
    fake.items_page_size = 1
    fake.repeat_tokens = True
    engine, account = setup(make_engine, fake, orders_api="v0")
    sync_account(engine, account.id)
    # page 1 gives a token; page 2, asked with it, gives the same token: not followed
    assert fake.count("getOrderItems") == 2 < REPEAT_LIMIT
    assert OrderItem.select().count() == 2
    state, text = _looping_status(account)
    assert state == "error" and "getOrderItems" in text and "pagination token" in text
