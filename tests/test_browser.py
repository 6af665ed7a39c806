"""One real browser run: Debian's Chromium logs in, changes the one-time password,
loads demo data and sees the orders."""

from __future__ import annotations

import pytest

from core.users import ensure_first_admin
from tests.support.web import serve
from web import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def server(engine):
    """The admin before its first start: only the one-time password exists."""
    app = create_app(engine=engine)
    password = ensure_first_admin()
    url, srv = serve(app)
    yield url, password
    srv.close()


def test_first_login_demo_data_and_orders(server, page):
    url, password = server
    page.goto(url + "/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/password")
    page.get_by_label("Current password").fill(password)
    page.get_by_label("New password (at least 10 characters)").fill("my-own-password-1")
    page.get_by_label("New password again").fill("my-own-password-1")
    page.get_by_role("button", name="Save password").click()
    page.get_by_text("Password changed.").wait_for()
    page.get_by_role("button", name="Load demo data").click()
    page.get_by_text("Demo data loaded: 300 orders").wait_for()
    page.get_by_role("link", name="Orders").click()
    rows = page.locator("#orders-table tbody tr")
    assert rows.count() == 50
    # htmx filter: choosing a marketplace swaps the table without a page load
    page.get_by_label("Marketplace").select_option("JP")
    page.wait_for_url("**marketplace=JP**")
    page.locator("#orders-table tbody tr").first.wait_for()
    markets = page.locator("#orders-table tbody tr td:nth-child(3)").all_inner_texts()
    assert markets and set(markets) == {"JP"}
    page.locator("#orders-table tbody tr a").first.click()
    page.get_by_role("heading", name="Campaign steps considered").wait_for()
    assert page.console_errors == []
