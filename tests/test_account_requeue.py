"""Messages postponed because their seller account could not reach Amazon (revoked or
wrong credentials, access denied) are due again as soon as the seller fixes it: when the
credentials are saved on the Accounts page, after a successful Test connection and
after a successful sync. Only ``scheduled``/``retry`` messages of that account whose
reason names the account problem move; nothing being sent or already sent is touched."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sp_api.auth import access_token_client

from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import Campaign, Message, Order, SellerAccount, Step
from core.planning import plan_orders
from core.sync import sync_account
from tests.fake_spapi.harness import amazon_settings, review_step
from tests.support.outbox import add_message
from tests.support.servers import ACCOUNT_SECRETS as SECRETS
from tests.support.web import ACCOUNT_FORM, accounts_post, connect_account

ORDER = "302-8888888-1000001"
LATER = timedelta(days=1)

pytestmark = pytest.mark.usefixtures("fresh_limiter")


@pytest.fixture
def fake(accounts_fake):
    return accounts_fake


@pytest.fixture
def engine(make_engine, fake):
    return make_engine(plugin_settings=amazon_settings(fake, timeout=2))


def revoked_and_postponed(engine, fake, account) -> Message:
    """The seller revoked the app: the review request's preflight waits on the account."""
    from core.accounts import ACCOUNT_PROBLEM

    review_step()
    fake.add_order(ORDER)
    result = sync_account(engine, account.id)
    plan_orders(engine, result.changed_ids)
    Message.update(due_at=utcnow()).execute()
    fake.revoke(SECRETS["refresh_token"])
    access_token_client.cache.clear()  # the library caches access tokens for 53 minutes
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "scheduled", (message.state, message.error)
    assert message.reason.startswith(f"waiting: {ACCOUNT_PROBLEM}"), message.reason
    assert message.due_at > utcnow() + timedelta(hours=1)
    assert SellerAccount.get_by_id(account.id).status == "error"
    return message


def test_saving_new_credentials_requeues_and_the_message_is_sent_once(signed_in, engine, fake):
    assert connect_account(signed_in).status_code == 302
    account = SellerAccount.get()
    message = revoked_and_postponed(engine, fake, account)
    # The seller authorizes the app again and pastes the new refresh token.
    fake.refresh_tokens.add("Atzr|IwEB-authorized-again")
    response = accounts_post(
        signed_in,
        f"/accounts/{account.id}/edit",
        **ACCOUNT_FORM,
        refresh_token="Atzr|IwEB-authorized-again",
    )
    assert response.status_code == 302
    message = Message.get_by_id(message.id)
    assert message.state == "scheduled" and message.due_at <= utcnow()
    assert message.reason == "re-queued: credentials were updated"
    dispatch_due(engine)
    assert Message.get_by_id(message.id).state == "sent"
    assert fake.solicited[ORDER] == 1


def test_saving_only_the_name_requeues_nothing(signed_in, engine, fake):
    connect_account(signed_in)
    account = SellerAccount.get()
    message = revoked_and_postponed(engine, fake, account)
    accounts_post(
        signed_in, f"/accounts/{account.id}/edit", **dict(ACCOUNT_FORM, name="EU shop renamed")
    )
    assert Message.get_by_id(message.id).due_at == message.due_at


def test_successful_test_connection_requeues(signed_in, engine, fake):
    connect_account(signed_in)
    account = SellerAccount.get()
    message = revoked_and_postponed(engine, fake, account)
    fake.revoked.clear()  # Amazon's side recovered (or the seller re-authorized the app)
    access_token_client.cache.clear()
    accounts_post(signed_in, f"/accounts/{account.id}/test")
    assert "Connected" in signed_in.get("/accounts/").get_data(as_text=True)
    assert SellerAccount.get_by_id(account.id).status == "ok"
    message = Message.get_by_id(message.id)
    assert message.due_at <= utcnow() and message.reason.startswith("re-queued:")


def test_failed_test_connection_requeues_nothing(signed_in, engine, fake):
    connect_account(signed_in)
    account = SellerAccount.get()
    message = revoked_and_postponed(engine, fake, account)
    accounts_post(signed_in, f"/accounts/{account.id}/test")  # still revoked
    assert Message.get_by_id(message.id).due_at == message.due_at
    assert SellerAccount.get_by_id(account.id).status == "error"


def test_successful_sync_requeues(signed_in, engine, fake):
    connect_account(signed_in)
    account = SellerAccount.get()
    message = revoked_and_postponed(engine, fake, account)
    fake.revoked.clear()
    access_token_client.cache.clear()
    sync_account(engine, account.id)
    assert SellerAccount.get_by_id(account.id).status == "ok"
    message = Message.get_by_id(message.id)
    assert message.due_at <= utcnow() and message.reason.startswith("re-queued:")


def test_requeue_touches_only_waiting_messages_of_that_account(engine):
    from core.accounts import ACCOUNT_PROBLEM, requeue_account_messages

    later = utcnow() + LATER
    ours = SellerAccount.create(name="ours", source="amazon", marketplaces=["DE"])
    theirs = SellerAccount.create(name="theirs", source="amazon", marketplaces=["DE"])
    campaign = Campaign.create(name="C", status="active")
    problem = f"waiting: {ACCOUNT_PROBLEM}: Login with Amazon: invalid_grant"
    rows = {}

    def message(label, account, state, reason="", error=""):
        order = Order.create(
            account=account,
            order_id=f"302-{len(rows):07d}-0000001",
            marketplace="DE",
            fulfillment="FBM",
            status="Shipped",
            purchased_at=utcnow(),
            last_updated_at=utcnow(),
        )
        step = Step.create(campaign=campaign, trigger="delivered", sender="amazon_review")
        rows[label] = add_message(order, step, state, due_at=later, reason=reason, error=error)

    message("scheduled", ours, "scheduled", problem)
    message("retry", ours, "retry", "", f"{ACCOUNT_PROBLEM}: Login with Amazon: invalid_grant")
    message("sending", ours, "sending", problem)
    message("sent", ours, "sent", problem)
    message("failed", ours, "failed", problem)
    message("other reason", ours, "scheduled", "waiting: daily message limit reached")
    message("other account", theirs, "scheduled", problem)

    assert requeue_account_messages(ours, "re-queued: credentials were updated") == 2
    now = utcnow()
    fresh = {label: Message.get_by_id(m.id) for label, m in rows.items()}
    for label in ("scheduled", "retry"):
        assert fresh[label].due_at <= now, label
        assert fresh[label].reason == "re-queued: credentials were updated"
        assert fresh[label].state == rows[label].state  # nothing else changes
    for label in ("sending", "sent", "failed", "other reason", "other account"):
        assert fresh[label].due_at == later, label
        assert (fresh[label].state, fresh[label].reason) == (rows[label].state, rows[label].reason)
    # the retry keeps its last error (why it was retrying) next to the new reason
    assert fresh["retry"].error == rows["retry"].error
