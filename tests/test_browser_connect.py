"""Connecting Amazon in real Chromium: the guided page checks each credential as it is
typed (htmx, against the fake SP-API over real HTTP) and names a missing role."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.models import SellerAccount
from tests.fake_spapi.harness import amazon_settings
from tests.support.servers import ACCOUNT_SECRETS as SECRETS
from tests.support.web import browser_login, make_admin, serve
from web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_limiter")]


@pytest.fixture
def server(make_engine, accounts_fake):
    engine = make_engine(plugin_settings=amazon_settings(accounts_fake, timeout=2))
    app = create_app(engine=engine)
    make_admin()
    url, srv = serve(app)
    yield url, accounts_fake
    srv.close()


def test_credentials_are_checked_as_typed_and_the_missing_role_named(server, page):
    url, fake = server
    token = "Atzr|browser-guide-0001"
    fake.refresh_tokens.add(token)
    fake.faults["getMessagingActionsForOrder"] = ["forbidden"]
    browser_login(page, url)
    page.goto(url + "/accounts/")
    page.get_by_role("link", name="Connect Amazon step by step").first.click()
    page.get_by_role("heading", name="Create the app client and pick its roles").wait_for()
    page.get_by_label("Account name").fill("EU shop")
    page.get_by_label("Region").select_option("EU")
    page.get_by_role("checkbox", name="DE").check()
    checks = page.locator("#checks")
    page.get_by_label("LWA client id").fill("amzn1.oa2-cs.v1.oops")
    page.get_by_label("LWA client id").blur()
    expect(checks).to_contain_text("does not start with amzn1.application-oa2-client.")
    page.get_by_label("LWA client id").fill(SECRETS["lwa_app_id"])
    page.get_by_label("LWA client secret").fill(SECRETS["lwa_client_secret"])
    page.get_by_label("Refresh token").fill(token)
    page.get_by_label("Refresh token").blur()
    expect(checks).to_contain_text("Login with Amazon accepted", timeout=15000)
    expect(checks).to_contain_text("Buyer Communication is missing")
    expect(checks).to_contain_text("Buyer Solicitation: granted")
    page.get_by_role("button", name="Connect account").click()
    page.wait_for_url(url + "/accounts/")
    assert SellerAccount.get().name == "EU shop"
    assert page.console_errors == []
