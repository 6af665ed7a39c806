"""Connect Amazon without guesswork: the guided page, each credential checked as it is
entered against the fake SP-API over real HTTP, and the missing role named."""

from __future__ import annotations

import time

import pytest

from core.models import AuditLog, SellerAccount
from tests.fake_spapi.harness import amazon_settings
from tests.support.outbox import user_client
from tests.support.servers import ACCOUNT_SECRETS as SECRETS
from tests.support.web import csrf_token, login, make_admin
from web import create_app

FR = "A13V1IB3VIYZZH"
pytestmark = pytest.mark.usefixtures("fresh_limiter")
PAGE = "/accounts/connect-amazon/"


@pytest.fixture
def fake(accounts_fake):
    return accounts_fake


@pytest.fixture
def app(make_engine, fake):
    engine = make_engine(plugin_settings=amazon_settings(fake, timeout=2))
    app = create_app(engine=engine)
    app.config["TESTING"] = True
    make_admin()
    return app


@pytest.fixture
def web(app):
    client = app.test_client()
    assert login(client).status_code == 302
    return client


def check(web, htmx=True, **overrides):
    data = {
        "csrf_token": csrf_token(web, PAGE),
        "name": "EU shop",
        "region": "EU",
        "marketplaces": ["DE"],
        **SECRETS,
        **overrides,
    }
    headers = {"HX-Request": "true"} if htmx else {}
    response = web.post(PAGE + "check", data=data, headers=headers)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def fresh_token(fake) -> str:
    """A refresh token the SP-API library never cached an access token for."""
    token = f"Atzr|guide-{time.monotonic_ns()}"
    fake.refresh_tokens.add(token)
    return token


def test_the_guide_walks_through_registration_roles_and_authorization(web):
    page = web.get(PAGE).get_data(as_text=True)
    for text in (
        "Apps and Services → Develop Apps",
        "private developer",
        "Add new app client",
        "<strong>Buyer Solicitation</strong> — required",
        "<strong>Buyer Communication</strong> — required",
        "Inventory and Order Tracking",
        "Authorize app",
        "https://developer-docs.amazon.com/sp-api/docs/self-authorization",
    ):
        assert text in page, text
    assert 'action="/accounts/new"' in page


def test_each_value_is_checked_as_entered(web, fake):
    page = check(web, lwa_app_id="amzn1.oa2-cs.v1.pasted-the-secret", refresh_token="")
    assert "LWA client id: does not start with amzn1.application-oa2-client." in page
    assert "Refresh token: not entered yet." in page
    assert "Login with Amazon" not in page  # later checks wait for the first to pass


def test_a_wrong_secret_names_the_client_fields(web, fake):
    page = check(web, lwa_client_secret="amzn1.oa2-cs.v1.wrong", refresh_token=fresh_token(fake))
    assert "rejected the client id or client secret (invalid_client)" in page
    assert 'data-field="lwa_client_secret"' in page


def test_a_revoked_token_names_the_refresh_token(web, fake):
    token = fresh_token(fake)
    fake.revoke(token)
    page = check(web, refresh_token=token)
    assert "rejected the refresh token (invalid_grant)" in page
    assert "Authorize app" in page


def test_all_good_checks_marketplaces_and_every_role(web, fake):
    page = check(web, refresh_token=fresh_token(fake))
    assert "Login with Amazon accepted the client id, secret and refresh token." in page
    assert "The seller sells in DE." in page
    for role in ("Inventory and Order Tracking", "Buyer Solicitation", "Buyer Communication"):
        assert f"{role}: granted" in page
    assert "Every check passed." in page
    assert SECRETS["lwa_client_secret"] not in page


def test_a_missing_role_is_named_with_what_it_unlocks(web, fake):
    fake.faults["getSolicitationActionsForOrder"] = ["forbidden"]
    page = check(web, refresh_token=fresh_token(fake))
    assert "Buyer Solicitation is missing: Amazon refused it (Unauthorized" in page
    assert "Without it Request a Review (Solicitations API) cannot work" in page
    assert "tick “Buyer Solicitation”" in page
    assert "Buyer Communication: granted" in page
    assert "Every check passed." not in page


def test_a_marketplace_the_seller_does_not_sell_in(web, fake):
    fake.seller_marketplaces = {FR}
    page = check(web, refresh_token=fresh_token(fake))
    assert "The seller does not sell in DE with these credentials" in page


def test_without_javascript_the_whole_page_comes_back_without_secrets(web, fake):
    token = fresh_token(fake)
    page = check(web, htmx=False, refresh_token=token)
    assert "<h1>Connect an Amazon seller account</h1>" in page
    assert "Every check passed." in page and token not in page
    assert 'value="EU shop"' in page
    assert AuditLog.get(AuditLog.action == "credentials_checked").detail == "all passed"


def test_connect_from_the_guide_saves_the_account(web, fake):
    data = {
        "csrf_token": csrf_token(web, PAGE),
        "name": "EU shop",
        "source": "amazon",
        "region": "EU",
        "marketplaces": ["DE"],
        **SECRETS,
    }
    assert web.post("/accounts/new", data=data).status_code == 302
    assert SellerAccount.get().name == "EU shop"


def test_only_an_admin_may_check_credentials(app, fake):
    editor = user_client(app, "editor")
    assert editor.get(PAGE).status_code == 403
    token = csrf_token(editor, "/accounts/")
    assert editor.post(PAGE + "check", data={"csrf_token": token}).status_code == 403


def test_test_connection_and_sync_name_the_missing_role(web, fake, app):
    from core.sync import sync_account

    data = {
        "csrf_token": csrf_token(web, PAGE),
        "name": "EU shop",
        "source": "amazon",
        "region": "EU",
        "marketplaces": ["DE"],
        **{**SECRETS, "refresh_token": fresh_token(fake)},
    }
    assert web.post("/accounts/new", data=data).status_code == 302
    account = SellerAccount.get()
    fake.faults["getMessagingActionsForOrder"] = ["forbidden"]
    web.post(f"/accounts/{account.id}/test", data={"csrf_token": csrf_token(web, "/accounts/")})
    page = web.get("/accounts/").get_data(as_text=True)
    assert "the app lacks the Buyer Communication role" in page
    assert "tick “Buyer Communication”" in page
    fake.faults["searchOrders"] = ["forbidden"]
    sync_account(app.extensions["followup"], account.id)
    account = SellerAccount.get_by_id(account.id)
    assert account.status == "error"
    assert "the app lacks the Inventory and Order Tracking role" in account.status_message
