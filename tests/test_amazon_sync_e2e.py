"""Order sync and the send paths under faults, end to end over HTTP against
tests/fake_spapi: the v0 fallback, the Reports backfill, 5xx handling (reads retried
with back-off, writes left in doubt and reconciled), malformed and partial answers,
region and marketplace mismatches, and LWA failures. In every case the account or the
message says what is wrong, the worker goes on, and nothing is lost or duplicated."""

from __future__ import annotations

import time

import pytest

from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import Message, Order, OrderItem, SellerAccount
from core.planning import plan_orders
from core.sync import sync_account
from plugins.amazon.source import check_connection
from tests.fake_spapi.harness import amazon_settings, connect, review_step
from tests.fake_spapi.schema import model_problems

IDS = [f"302-7000000-{n:07d}" for n in range(1, 6)]

pytestmark = pytest.mark.usefixtures("fresh_limiter")


def setup(make_engine, fake, **settings):
    engine = make_engine(plugin_settings=amazon_settings(fake, **settings))
    return engine, connect(engine)


def status(account) -> tuple[str, str]:
    account = SellerAccount.get_by_id(account.id)
    return account.status, account.status_message


def stored() -> set[str]:
    return {o.order_id for o in Order.select()}


# -- the v0 fallback and the Reports backfill ----------------------------------------


def test_v0_fallback_reads_orders_and_every_item_page(make_engine, fake):
    mug = {"orderItemId": "1", "asin": "B0A", "sku": "A", "title": "Mug", "quantity": 2}
    lid = {"orderItemId": "2", "asin": "B0B", "sku": "B", "title": "Lid", "quantity": 1}
    fake.add_order(IDS[0], items=[dict(mug, price=9.5), dict(lid, price=3.0)])
    for oid in IDS[1:3]:
        fake.add_order(oid)
    fake.items_page_size = 1  # getOrderItems pages by NextToken
    engine, account = setup(make_engine, fake, orders_api="v0")
    result = sync_account(engine, account.id)
    assert not result.errors and result.created == 3
    assert fake.count("searchOrders") == 0 and fake.count("getOrders") == 2  # 2 per page
    assert fake.count("getOrderItems") == 2 + 2  # two pages for the two-item order
    order = Order.get(Order.order_id == IDS[0])
    assert sorted(i.sku for i in OrderItem.select().where(OrderItem.order == order)) == ["A", "B"]
    assert order.total == pytest.approx(22.0) and order.fulfillment == "FBM"
    assert status(account)[0] == "ok"


@pytest.mark.parametrize("gzip", [False, True])
def test_reports_backfill_imports_the_all_orders_file(make_engine, fake, gzip):
    for oid in IDS:
        fake.add_order(oid, fulfilled_by="AMAZON")
    fake.add_order("302-7000000-0000009", status="CANCELLED")
    fake.report_polls = 2  # IN_QUEUE, IN_PROGRESS, then DONE
    fake.report_gzip = gzip
    engine, account = setup(make_engine, fake, backfill_report=True, report_poll_seconds=0.05)
    result = sync_account(engine, account.id)
    assert not result.errors and result.created == 6
    assert fake.count("createReport") == 1 and fake.count("getReport") == 3
    assert fake.count("getReportDocument") == 1 and fake.count("searchOrders") == 0
    [create] = fake.calls_of("createReport")
    assert create.body["marketplaceIds"] == ["A1PA6795UKMFR9"] and create.body["dataStartTime"]
    path = "/reports/2021-06-30/reports"  # what Amazon's model describes:
    assert model_problems(create.body, "reports_2021-06-30.json", path, "POST") == []
    cancelled = Order.get(Order.order_id == "302-7000000-0000009")
    assert "cancelled" in cancelled.event_times()
    assert "delivered" in Order.get(Order.order_id == IDS[0]).event_times()
    # later syncs are incremental through searchOrders
    sync_account(engine, account.id)
    assert fake.count("createReport") == 1 and fake.count("searchOrders") == 1


def test_a_failed_report_is_a_clear_account_error(make_engine, fake):
    fake.add_order(IDS[0])
    fake.report_outcome = "FATAL"
    engine, account = setup(make_engine, fake, backfill_report=True, report_poll_seconds=0.05)
    sync_account(engine, account.id)
    assert status(account) == ("error", "sync failed: Amazon could not build the report (FATAL)")
    assert stored() == set()


# -- 5xx: reads retried with back-off, writes never blindly --------------------------


def test_500_on_a_read_is_retried_with_backoff(make_engine, fake):
    for oid in IDS:
        fake.add_order(oid)
    fake.faults["searchOrders"] = ["500", "500_html"]  # JSON error, then an HTML page
    engine, account = setup(make_engine, fake)
    started = time.monotonic()
    result = sync_account(engine, account.id)
    assert not result.errors and stored() == set(IDS)
    # 2 failures + 3 pages; the jittered back-off waited >= 0.5 s + 1 s
    assert fake.count("searchOrders") == 5
    assert time.monotonic() - started >= 1.5
    assert status(account)[0] == "ok"


@pytest.mark.parametrize(
    "fault, posts",
    [
        ("500", 2),  # not taken: reconcile sees the action still offered -> sent once more
        ("500_html", 2),  # same, and the HTML page is not mistaken for a success
        ("500_after_commit", 1),  # taken: reconcile sees the action gone -> sent, no resend
    ],
)
def test_500_on_the_review_post_is_in_doubt_then_reconciled(make_engine, fake, fault, posts):
    fake.add_order(IDS[0])
    fake.faults[IDS[0]] = [fault]
    engine, account = setup(make_engine, fake)
    review_step()
    result = sync_account(engine, account.id)
    plan_orders(engine, result.changed_ids)
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "in_doubt" and "500" in message.error
    for _ in range(3):
        Message.update(due_at=utcnow()).where(Message.state == "retry").execute()
        dispatch_due(engine)
    assert Message.get().state == "sent"
    assert fake.solicited[IDS[0]] == 1  # exactly one review request reached the buyer
    assert fake.count("createProductReviewAndSellerFeedbackSolicitation") == posts


# -- malformed, partial, unknown status, missing dates -------------------------------


def test_malformed_json_fails_the_sync_clearly_and_the_next_one_catches_up(make_engine, fake):
    for oid in IDS:
        fake.add_order(oid)
    fake.faults["searchOrders"] = ["malformed"]
    engine, account = setup(make_engine, fake)
    result = sync_account(engine, account.id)
    state, text = status(account)
    assert state == "error" and "not JSON" in text and result.created == 0
    assert SellerAccount.get_by_id(account.id).sync_cursor is None  # nothing skipped
    result = sync_account(engine, account.id)
    assert stored() == set(IDS) and result.created == 5
    assert status(account)[0] == "ok"
    assert Order.select().count() == 5  # nothing twice


@pytest.mark.parametrize(
    "fault, says",
    [
        ("unknown_status", "unknown fulfillmentStatus 'TELEPORTED'"),
        ("missing_dates", "createdTime is missing"),
        ("partial", "unknown marketplaceId"),
    ],
)
def test_one_unreadable_order_is_named_and_the_others_are_stored(make_engine, fake, fault, says):
    for oid in IDS:
        fake.add_order(oid)
    bad = IDS[2]
    fake.orders[bad]["_fault"] = fault
    engine, account = setup(make_engine, fake)
    review_step()
    result = sync_account(engine, account.id)
    plan_orders(engine, result.changed_ids)
    state, text = status(account)
    assert state == "error" and bad in text and says in text
    assert stored() == set(IDS) - {bad}  # the rest of the page and the other pages
    dispatch_due(engine)  # the worker goes on sending for the readable orders
    assert set(fake.solicited) == set(IDS) - {bad}
    # Amazon fixes its answer: the next sync reads it (the cursor did not skip it)
    fake.orders[bad]["_fault"] = None
    result = sync_account(engine, account.id)
    plan_orders(engine, result.changed_ids)
    dispatch_due(engine)
    assert stored() == set(IDS) and status(account)[0] == "ok"
    assert Order.select().count() == 5 and fake.solicited[bad] == 1
    assert sum(fake.solicited.values()) == 5  # one review request each, none twice


def test_a_fault_on_one_page_of_the_v0_api_is_named_too(make_engine, fake):
    for oid in IDS[:3]:
        fake.add_order(oid)
    fake.faults["getOrders"] = ["unknown_status"]  # the first order of the first page
    engine, account = setup(make_engine, fake, orders_api="v0")
    sync_account(engine, account.id)
    state, text = status(account)
    assert state == "error" and "unknown OrderStatus 'Teleported'" in text
    assert len(stored()) == 2
    sync_account(engine, account.id)
    assert stored() == set(IDS[:3]) and status(account)[0] == "ok"


# -- region, marketplace, credentials ------------------------------------------------


def test_marketplace_outside_the_accounts_region_is_a_clear_account_error(make_engine, fake):
    fake.add_order(IDS[0])
    engine = make_engine(plugin_settings=amazon_settings(fake))
    account = connect(engine, marketplaces=["DE", "US"], region="EU")
    sync_account(engine, account.id)
    state, text = status(account)
    assert state == "error"
    assert "US is in region NA, the account is EU" in text and "separate NA account" in text
    assert fake.count("searchOrders") == 0  # refused before asking Amazon


def test_marketplace_the_seller_does_not_sell_in(make_engine, fake):
    fake.add_order(IDS[0])
    fake.seller_marketplaces = {"ATVPDKIKX0DER"}  # these credentials sell in the US only
    engine, account = setup(make_engine, fake)
    assert "does not sell in DE" in check_connection(engine, SellerAccount.get_by_id(account.id))
    sync_account(engine, account.id)
    state, text = status(account)
    assert state == "error" and "Invalid marketplace(s) for this seller" in text
    assert stored() == set()


def test_wrong_client_secret_is_named(make_engine, fake):
    fake.clients = {"amzn1.app": "the-real-secret"}
    fake.refresh_tokens.add("tok-invalid-client")
    engine = make_engine(plugin_settings=amazon_settings(fake))
    creds = {
        "refresh_token": "tok-invalid-client",
        "lwa_app_id": "amzn1.app",
        "lwa_client_secret": "typo",
    }
    account = connect(engine, creds=creds)
    assert check_connection(engine, account) == (
        "Login with Amazon rejected the client id or client secret"
    )
    sync_account(engine, account.id)
    state, text = status(account)
    assert state == "error" and "invalid_client" in text


def test_throttled_read_waits_and_succeeds(make_engine, fake):
    fake.add_order(IDS[0])
    fake.faults["getOrderItems"] = ["throttle"]  # 0.5 req/s: the wait after a 429 is ~2 s
    engine, account = setup(make_engine, fake, orders_api="v0")
    result = sync_account(engine, account.id)
    assert not result.errors and stored() == {IDS[0]}
    assert fake.count("getOrderItems") == 1 and fake.throttled == 1  # the 429 + one retry
    assert status(account)[0] == "ok"


def test_new_credentials_take_effect_at_once(make_engine, fake):
    """Clients are reused between calls, but never with credentials the seller replaced."""
    from core.credentials import save_account_credentials

    fake.add_order(IDS[0])
    engine, account = setup(make_engine, fake)
    sync_account(engine, account.id)
    assert status(account)[0] == "ok"
    account = SellerAccount.get_by_id(account.id)
    save_account_credentials(
        engine,
        account,
        {"refresh_token": "tok-never-issued", "lwa_app_id": "a", "lwa_client_secret": "b"},
    )
    sync_account(engine, account.id)
    state, text = status(account)
    assert state == "error" and "invalid_grant" in text


def test_v0_review_window_runs_from_earliest_to_latest_delivery(make_engine, fake):
    """v0 has no confirmed delivery: the window is 5 days after the earliest delivery
    date to 30 days after the latest, on both sides of the wire."""
    fake.add_order(IDS[0], delivery_window_days_ago=(12, 8))  # opened a week ago
    fake.add_order(IDS[1], delivery_window_days_ago=(4, 1))  # opens tomorrow
    engine, account = setup(make_engine, fake, orders_api="v0")
    review_step()
    result = sync_account(engine, account.id)
    plan_orders(engine, result.changed_ids)
    Message.update(due_at=utcnow()).execute()
    dispatch_due(engine)
    assert set(fake.solicited) == {IDS[0]}
    states = {m.order.order_id: m.state for m in Message.select()}
    assert states == {IDS[0]: "sent", IDS[1]: "scheduled"}
