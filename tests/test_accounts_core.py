"""core.accounts without Flask: field errors keyed by field name, saving with credentials
kept or replaced, and the deletion guard that keeps "never twice" when an account is
connected again."""

from __future__ import annotations

import pytest

from core.accounts import (
    REGIONS,
    AccountInvalid,
    AccountValues,
    DeletionRefused,
    allowed_words_error,
    delete_account,
    deletion_blocker,
    marketplaces_by_region,
    save_account,
    stored_credentials,
    validate_account,
)
from core.credentials import account_credentials
from core.models import Campaign, Message, Order, SellerAccount
from tests.support.servers import ACCOUNT_SECRETS as SECRETS


def eu(**changes) -> AccountValues:
    values = AccountValues(name="EU shop", source="amazon", region="EU", marketplaces=["DE"])
    for key, value in changes.items():
        setattr(values, key, value)
    return values


def test_every_field_error_is_keyed_by_its_field(engine):
    errors = validate_account(
        engine,
        AccountValues(
            name="",
            source="nowhere",
            region="XX",
            marketplaces=["ZZ"],
            test_address="not an address",
            allowed_words="bad_word!",
        ),
    )
    assert set(errors) == {
        "name",
        "source",
        "region",
        "marketplaces",
        "test_address",
        "allowed_words",
    }
    assert "amazon" in errors["source"]
    assert errors["marketplaces"] == "Unknown marketplace: ZZ."


def test_an_api_account_needs_a_region_and_every_credential(engine):
    errors = validate_account(engine, eu(region=""))
    assert errors["region"] == "Choose the region your seller account is registered in."
    assert {"lwa_app_id", "lwa_client_secret", "refresh_token"} <= set(errors)
    assert validate_account(engine, eu(), SECRETS) == {}


def test_marketplaces_must_be_in_the_accounts_region(engine):
    errors = validate_account(engine, eu(marketplaces=["DE", "US"]), SECRETS)
    assert errors == {
        "marketplaces": "US not in region EU: connect a separate account for that region."
    }


def test_names_are_unique_and_bounded(engine):
    save_account(engine, eu(), SECRETS)
    assert validate_account(engine, eu(), SECRETS)["name"] == (
        "Another account already has this name."
    )
    assert "120" in validate_account(engine, eu(name="x" * 121), SECRETS)["name"]
    # the account itself keeps its own name
    account = SellerAccount.get()
    assert validate_account(engine, eu(), {}, account) == {}


def test_allowed_words():
    assert allowed_words_error("Kaffeemühle\nAcme+ B&O") == ""
    assert "cannot be a product or brand name" in allowed_words_error("_under")
    assert "at most 500" in allowed_words_error(" ".join(f"w{i}" for i in range(501)))


def test_save_creates_then_keeps_blank_credentials_and_replaces_typed_ones(engine):
    saved = save_account(engine, eu(allowed_words="Acme  Kaffeemühle"), SECRETS)
    account = saved.account
    assert saved.created and saved.credentials_set == tuple(sorted(SECRETS))
    assert account.allowed_words == "Acme\nKaffeemühle"
    assert SECRETS["refresh_token"].encode() not in bytes(account.credentials)
    stored = stored_credentials(engine, account)
    assert stored.keys == set(SECRETS) and not stored.unreadable
    assert SECRETS["lwa_app_id"] not in stored.app_id_hint

    again = save_account(engine, eu(name="EU shop 2"), {"refresh_token": ""}, account)
    assert not again.created and again.credentials_set == ()
    assert account_credentials(engine, account, check_binding=False) == SECRETS

    save_account(engine, eu(name="EU shop 2"), {"refresh_token": "Atzr|new"}, account)
    creds = account_credentials(engine, account, check_binding=False)
    assert creds["refresh_token"] == "Atzr|new"
    assert creds["lwa_client_secret"] == SECRETS["lwa_client_secret"]


def test_invalid_values_save_nothing(engine):
    with pytest.raises(AccountInvalid) as refused:
        save_account(engine, eu(name=""), SECRETS)
    assert set(refused.value.errors) == {"name"}
    assert SellerAccount.select().count() == 0


def test_a_demo_source_needs_no_credentials(engine):
    saved = save_account(
        engine, AccountValues(name="Demo", source="demo", marketplaces=["US"]), None
    )
    assert saved.account.credentials is None


def _order(account) -> Order:
    return Order.create(
        account=account,
        order_id="302-3000001-1234567",
        marketplace="DE",
        fulfillment="FBM",
        status="Shipped",
        purchased_at=account.created_at,
        last_updated_at=account.created_at,
    )


def _message(account, state: str) -> Message:
    return Message.create(
        order=_order(account), account=account, sender="amazon_review", state=state,
        due_at=account.created_at,
    )  # fmt: skip


def test_an_account_without_history_is_deleted_with_its_orders(engine):
    account = save_account(engine, eu(), SECRETS).account
    _message(account, "scheduled")
    assert deletion_blocker(account) == ""
    assert delete_account(account) == 1
    assert SellerAccount.select().count() == Order.select().count() == 0


@pytest.mark.parametrize("state", ["sent", "in_doubt", "sending"])
def test_history_that_may_have_reached_a_buyer_keeps_the_account(engine, state):
    # Deleting it would forget that the buyer was messaged: connected again, the
    # account would message them a second time.
    account = save_account(engine, eu(), SECRETS).account
    _message(account, state)
    assert "never messages a buyer twice" in deletion_blocker(account)
    with pytest.raises(DeletionRefused, match="1 messages were sent"):
        delete_account(account)
    assert SellerAccount.select().count() == Message.select().count() == 1


def test_a_demo_account_with_sent_messages_may_go(engine):
    account = SellerAccount.create(name="Demo", source="demo", is_demo=True, marketplaces=["US"])
    _message(account, "sent")
    assert delete_account(account) == 1


def test_campaigns_must_be_moved_or_deleted_first(engine):
    account = save_account(engine, eu(), SECRETS).account
    Campaign.create(name="Reviews DE", account=account)
    with pytest.raises(DeletionRefused, match="Campaigns Reviews DE belong to this account"):
        delete_account(account)


def test_a_message_claimed_after_the_check_still_keeps_the_account(engine, monkeypatch):
    # The worker claims a message between the guard's check and the DELETE: the DELETE
    # repeats the condition, so the account stays.
    import core.accounts

    account = save_account(engine, eu(), SECRETS).account
    message = _message(account, "scheduled")
    real = core.accounts.deletion_blocker
    calls = []

    def check_then_claim(acc):
        answer = real(acc)
        if not calls:
            Message.update(state="sending").where(Message.id == message.id).execute()
        calls.append(answer)
        return answer

    monkeypatch.setattr(core.accounts, "deletion_blocker", check_then_claim)
    with pytest.raises(DeletionRefused, match="never messages a buyer twice"):
        delete_account(account)
    assert SellerAccount.select().count() == 1


def test_marketplaces_are_offered_grouped_by_region_and_sorted(engine):
    groups = marketplaces_by_region(engine)
    assert set(groups) <= set(REGIONS)
    assert "US" in [m.code for m in groups["NA"]]
    for region, markets in groups.items():
        assert all(m.region == region for m in markets)
        assert [m.code for m in markets] == sorted(m.code for m in markets)
