"""The Amazon plugin end to end over real HTTP: sync -> plan -> Request a Review, through
python-amazon-sp-api's own code paths, against the fake in tests/spapi_min.py."""

from __future__ import annotations

import pytest

from core.dispatch import dispatch_due
from core.models import Campaign, Message, Order, SellerAccount, Step
from core.planning import plan_orders
from core.services import save_account_credentials
from core.sync import sync_account
from tests.spapi_min import FakeSPAPI

CREDS = {
    "refresh_token": "good-refresh-token",
    "lwa_app_id": "amzn1.app",
    "lwa_client_secret": "s3cret-lwa",
}


@pytest.fixture
def fake():
    with FakeSPAPI() as server:
        yield server


@pytest.fixture
def amazon(make_engine, fake):
    engine = make_engine(
        plugin_settings={
            "amazon": {"endpoint": fake.url, "lwa_url": fake.url + "/auth/o2/token", "timeout": 1}
        }
    )
    account = SellerAccount.create(
        name="EU seller", source="amazon", region="EU", marketplaces=["DE"]
    )
    save_account_credentials(engine, account, CREDS)
    campaign = Campaign.create(name="Review", status="active")
    Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="amazon_review",
        window_start_hour=0,
        window_end_hour=24,
    )
    return engine, account


def sync_and_plan(engine, account):
    result = sync_account(engine, account.id)
    assert not result.errors, result.errors
    plan_orders(engine, result.changed_ids)
    return result


def test_sync_plan_send_exactly_once(amazon, fake):
    engine, account = amazon
    for n in range(5):
        fake.add_order(f"302-000000{n}-1234567")
    fake.add_order("302-0000009-7654321", status="CANCELLED")
    result = sync_and_plan(engine, account)
    assert result.created == 6 and fake.count("searchOrders") == 3  # paginated, 2 a page
    assert Order.get(Order.order_id == "302-0000001-1234567").delivery_confirmed
    dispatch_due(engine)
    assert fake.count("createProductReviewAndSellerFeedbackSolicitation") == 5
    assert set(fake.solicited) == {f"302-000000{n}-1234567" for n in range(5)}
    assert Message.select().where(Message.state == "sent").count() == 5
    # nothing for the cancelled order, and nothing more on later rounds
    sync_and_plan(engine, account)
    dispatch_due(engine)
    assert fake.count("createProductReviewAndSellerFeedbackSolicitation") == 5
    cancelled = Order.get(Order.order_id == "302-0000009-7654321")
    assert (
        not Message.select()
        .where((Message.order == cancelled) & (Message.state == "sent"))
        .exists()
    )


def test_not_offered_yet_waits_and_403_is_never_retried(amazon, fake):
    from core.clock import utcnow

    engine, account = amazon
    fake.add_order("302-0000001-1111111", delivered_days_ago=2)  # window not open yet
    fake.add_order("302-0000002-2222222")
    fake.faults["302-0000002-2222222"] = ["forbidden"]
    sync_and_plan(engine, account)
    Message.update(due_at=utcnow()).execute()  # ask Amazon now, not at the planned time
    dispatch_due(engine)
    dispatch_due(engine)
    states = {m.order.order_id: (m.state, m.reason) for m in Message.select()}
    # our own window veto answers before Amazon is even asked
    assert states["302-0000001-1111111"][0] == "scheduled"
    assert states["302-0000001-1111111"][1].startswith("waiting: review-request window opens")
    assert states["302-0000002-2222222"][0] == "skipped"
    assert "403" in states["302-0000002-2222222"][1]
    assert fake.count("createProductReviewAndSellerFeedbackSolicitation") == 1  # not retried


def test_timeout_after_commit_is_in_doubt_then_reconciled_not_resent(amazon, fake):
    engine, account = amazon
    fake.add_order("302-0000003-3333333")
    fake.faults["302-0000003-3333333"] = ["timeout_after_commit"]
    sync_and_plan(engine, account)
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "in_doubt", message.error
    dispatch_due(engine)  # reconcile asks the actions endpoint: the action is gone
    assert Message.get().state == "sent"
    assert fake.solicited["302-0000003-3333333"] == 1


def test_revoked_refresh_token_marks_the_account(amazon, fake):
    engine, account = amazon
    # a token the fake does not know (the library caches access tokens per refresh token)
    save_account_credentials(engine, account, dict(CREDS, refresh_token="revoked-token"))
    fake.add_order("302-0000004-4444444")
    result = sync_account(engine, account.id)
    assert result.created == 0
    account = SellerAccount.get_by_id(account.id)
    assert account.status == "error" and "invalid_grant" in account.status_message


def test_credentials_never_in_plain_text_in_database_or_logs(amazon, fake, caplog):
    engine, account = amazon
    caplog.set_level("DEBUG")
    fake.add_order("302-0000005-5555555")
    sync_and_plan(engine, account)
    dispatch_due(engine)
    engine.db.execute_sql("PRAGMA wal_checkpoint(FULL)")
    path = engine.settings.database_url[len("sqlite:///") :]
    raw = open(path, "rb").read()
    for secret in (CREDS["refresh_token"], CREDS["lwa_client_secret"]):
        assert secret.encode() not in raw
        assert secret not in caplog.text
