"""``core.campaigns.update_campaign``: rename, describe, move to another seller account;
a campaign that moves stops for the account it left (its unsent messages there are
cancelled with the reason) and, when it plans, is re-planned for the new one. No Flask:
the rule lives in core, the Campaigns page only calls it."""

from __future__ import annotations

import pytest

from core.campaigns import CampaignError, create_campaign, set_status, update_campaign
from core.contracts import CANCELLED, IN_DOUBT, SCHEDULED, SENDING, SENT
from core.models import AuditLog, Campaign, Decision, Message, SellerAccount
from core.store import store_orders
from tests.conftest import order_data
from tests.support.campaigns import REVIEW_STEP


def scheduled_accounts() -> set[int]:
    """The seller accounts of the orders with a scheduled message."""
    return {m.order.account_id for m in Message.select().where(Message.state == SCHEDULED)}


def test_moving_an_active_campaign_replans_it_for_the_new_account(engine, account):
    other = SellerAccount.create(name="Second seller", source="demo", marketplaces=["US"])
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    store_orders(other, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP], account=account)
    set_status(engine, campaign, "active", backlog_days=30)
    assert scheduled_accounts() == {account.id}

    update_campaign(engine, campaign, account=other, user="ann")

    assert Campaign.get_by_id(campaign.id).account_id == other.id
    assert other.id in scheduled_accounts()
    entry = AuditLog.get(AuditLog.action == "campaign_edited")
    assert (entry.user, entry.target) == ("ann", "Reviews")


def test_moving_leaves_no_message_waiting_for_the_old_account(engine, account):
    other = SellerAccount.create(name="Second seller", source="demo", marketplaces=["US"])
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP], account=account)
    set_status(engine, campaign, "active", backlog_days=30)
    update_campaign(engine, campaign, account=other, user="ann")
    assert account.id not in scheduled_accounts()
    message = Message.get(Message.account == account.id)
    assert (message.state, message.reason) == (
        CANCELLED,
        "cancelled: campaign moved to account Second seller",
    )
    decision = Decision.get((Decision.order == message.order) & (Decision.step == message.step))
    assert (decision.outcome, decision.reason) == ("excluded", message.reason)
    assert decision.decided_by == "campaign moved"
    entry = AuditLog.get(AuditLog.action == "campaign_edited")
    assert entry.detail == "moved to account Second seller; 1 unsent messages cancelled"


@pytest.mark.parametrize("state", [SENDING, SENT, IN_DOUBT])
def test_moving_leaves_a_message_being_sent_or_sent_untouched(engine, account, state):
    other = SellerAccount.create(name="Second seller", source="demo", marketplaces=["US"])
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP], account=account)
    set_status(engine, campaign, "active", backlog_days=30)
    message = Message.get(Message.account == account.id)
    Message.update(state=state, reason="").where(Message.id == message.id).execute()
    decision = Decision.get((Decision.order == message.order) & (Decision.step == message.step))

    update_campaign(engine, campaign, account=other)

    after = Message.get_by_id(message.id)
    assert (after.state, after.reason) == (state, "")
    kept = Decision.get_by_id(decision.id)
    assert (kept.outcome, kept.reason) == (decision.outcome, decision.reason)


def test_a_paused_campaign_that_moves_cancels_too(engine, account):
    """Paused, its messages wait; resumed for the new account they must not go out."""
    other = SellerAccount.create(name="Second seller", source="demo", marketplaces=["US"])
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP], account=account)
    set_status(engine, campaign, "active", backlog_days=30)
    set_status(engine, campaign, "paused")
    update_campaign(engine, campaign, account=other)
    assert Message.get(Message.account == account.id).state == CANCELLED


def test_moving_to_every_account_cancels_nothing(engine, account):
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP], account=account)
    set_status(engine, campaign, "active", backlog_days=30)
    update_campaign(engine, campaign, account=None)
    assert scheduled_accounts() == {account.id}


def test_a_draft_that_moves_plans_nothing(engine, account):
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    update_campaign(engine, campaign, account=account)
    assert Campaign.get_by_id(campaign.id).account_id == account.id
    assert Message.select().count() == 0


def test_arguments_left_out_keep_their_values(engine, account):
    campaign = create_campaign(
        engine, "Reviews", [REVIEW_STEP], account=account, description="first"
    )
    update_campaign(engine, campaign, name="  Thank-you notes  ")
    stored = Campaign.get_by_id(campaign.id)
    assert (stored.name, stored.description, stored.account_id) == (
        "Thank-you notes",
        "first",
        account.id,
    )
    update_campaign(engine, campaign, account=None)  # None: every seller account
    assert Campaign.get_by_id(campaign.id).account_id is None


@pytest.mark.parametrize("name", ["", "   ", "x" * 121])
def test_a_blank_or_too_long_name_changes_nothing(engine, account, name):
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    with pytest.raises(CampaignError) as err:
        update_campaign(engine, campaign, name=name, account=account, description="new")
    assert err.value.problems == ["name: give the campaign a name"]
    stored = Campaign.get_by_id(campaign.id)
    assert (stored.name, stored.account_id, stored.description) == ("Reviews", None, "")
    assert (campaign.name, campaign.account_id) == ("Reviews", None)
    assert not AuditLog.select().where(AuditLog.action == "campaign_edited").exists()


def test_narrowing_every_account_to_one_cancels_the_others(engine, account):
    other = SellerAccount.create(name="Second seller", source="demo", marketplaces=["US"])
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    store_orders(other, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active", backlog_days=30)
    assert scheduled_accounts() == {account.id, other.id}
    update_campaign(engine, campaign, account=other)
    assert scheduled_accounts() == {other.id}
    left = Message.get(Message.account == account.id)
    assert left.reason == "cancelled: campaign moved to account Second seller"
