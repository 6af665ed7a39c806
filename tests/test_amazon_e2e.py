"""The Amazon plugin end to end over real HTTP: sync -> plan -> Request a Review, through
python-amazon-sp-api's own code paths, against the fake in tests/fake_spapi/."""

from __future__ import annotations

import pytest

from core.credentials import save_account_credentials
from core.dispatch import dispatch_due
from core.models import Message, Order, SellerAccount
from core.sync import sync_account
from tests.fake_spapi.auth import access_token_for
from tests.fake_spapi.harness import (
    CREDS,
    amazon_settings,
    connect,
    connected,
    review_step,
    sync_and_plan,
)

pytestmark = pytest.mark.usefixtures("fresh_limiter")


@pytest.fixture
def amazon(make_engine, fake):
    engine, account = connected(make_engine, fake)
    review_step()
    return engine, account


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


def test_credentials_never_in_plain_text_in_database_logs_or_queue(make_engine, fake, caplog):
    """Sync and send through a SqliteHuey file, as the worker does: neither the refresh
    token, the client secret nor the access token Amazon issued appears in the database
    file, the queue file or the logs."""
    from core.queue import make_huey
    from core.tasks import EngineQueue

    caplog.set_level("DEBUG")
    caplog.set_level("DEBUG", logger="sp_api")  # the library logs request headers at DEBUG
    caplog.set_level("DEBUG", logger="sp_api.base.client")
    engine = make_engine(
        plugin_settings=amazon_settings(fake), queue={"backend": "sqlite", "path": "data/queue.db"}
    )
    account = connect(engine)
    review_step()
    fake.add_order("302-0000005-5555555")
    huey = make_huey(engine.settings)
    runtime = EngineQueue(engine, huey)
    runtime.sync_account(account.id)  # enqueued in the SqliteHuey file
    runtime.dispatch()
    ran = 0
    while (task := huey.dequeue()) is not None:
        huey.execute(task)
        ran += 1
        if task.name == "followup.sync_account":
            runtime.dispatch()  # the worker dispatches after planning
    assert ran >= 2 and fake.solicited["302-0000005-5555555"] == 1
    assert Message.get().state == "sent"
    engine.db.execute_sql("PRAGMA wal_checkpoint(FULL)")
    db_path = engine.settings.database_url[len("sqlite:///") :]
    queue_path = engine.settings.resolve_path("data/queue.db")
    files = {"database": open(db_path, "rb").read(), "queue": open(queue_path, "rb").read()}
    assert files["queue"]  # the queue file was really used
    secrets = (
        CREDS["refresh_token"],
        CREDS["lwa_client_secret"],
        access_token_for(CREDS["refresh_token"]),
    )
    for secret in secrets:
        for name, raw in files.items():
            assert secret.encode() not in raw, f"{secret[:6]}... in the {name} file"
        assert secret not in caplog.text
    assert "Request Headers" in caplog.text  # the library's debug log was on
