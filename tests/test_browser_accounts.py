"""Real Chromium on the Accounts page: connect a seller account against the fake SP-API
through the form, "Test connection" says Connected, then "Sync now" runs on a real huey
consumer thread and the htmx progress bar is seen moving and finishing, with no console
error (the CSP forbids inline script and style, so any would show up here)."""

from __future__ import annotations

import re

import pytest

from core.models import Order, SellerAccount
from core.queue import make_huey
from tests.fake_spapi.harness import amazon_settings
from tests.support.servers import ACCOUNT_SECRETS as SECRETS
from tests.support.web import browser_login, make_admin, serve
from web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_limiter")]

ORDERS = 16  # 8 pages of 2, each answered after SEARCH_DELAY: a sync of a few seconds
SEARCH_DELAY = 0.5


@pytest.fixture
def fake(accounts_fake):
    """The fake SP-API knowing ``SECRETS``, with ``search_delay`` (tests.support.servers)."""
    return accounts_fake


@pytest.fixture
def site(make_engine, fake):
    engine = make_engine(plugin_settings=amazon_settings(fake, timeout=5))
    huey = make_huey(engine.settings)  # the memory queue: the web app enqueues, a consumer runs
    app = create_app(engine=engine, huey=huey)
    make_admin()
    consumer = huey.create_consumer(workers=1, worker_type="thread", periodic=False)
    consumer.start()
    url, srv = serve(app)
    yield url, engine
    srv.close()
    consumer.stop(graceful=True)


def test_connect_test_connection_and_watch_a_sync(site, fake, page):
    url, engine = site
    for n in range(ORDERS):
        fake.add_order(f"302-40000{n:02d}-1234567")
    fake.search_delay = SEARCH_DELAY
    browser_login(page, url)
    page.get_by_role("link", name="Accounts").click()
    page.get_by_text("No seller account yet").wait_for()
    page.get_by_role("link", name="Connect a seller account").first.click()

    page.get_by_label("Account name").fill("EU shop")
    page.get_by_label("Region").select_option("EU")
    # only the region's marketplaces are offered (accounts.js)
    assert page.get_by_label("DE", exact=False).first.is_visible()
    assert not page.locator('input[name="marketplaces"][value="US"]').is_visible()
    page.locator('input[name="marketplaces"][value="DE"]').check()
    page.get_by_label("Your test address").fill("me@example.com")
    page.get_by_label("LWA client id").fill(SECRETS["lwa_app_id"])
    page.get_by_label("LWA client secret").fill(SECRETS["lwa_client_secret"])
    page.get_by_label("Refresh token").fill(SECRETS["refresh_token"])
    page.get_by_role("button", name="Connect account").click()
    page.get_by_text("Account EU shop connected").wait_for()
    assert SECRETS["lwa_client_secret"] not in page.content()

    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Test connection of EU shop: Connected.").wait_for()

    page.get_by_role("button", name="Sync now").click()
    page.get_by_text("Incremental sync of EU shop queued").wait_for()
    text = page.locator("#sync-1 .progress-text")
    # htmx polls the fragment every second: the text moves through the pages...
    page.wait_for_function(
        "() => /Syncing: \\d+ orders read/.test("
        "document.querySelector('#sync-1 .progress-text')?.textContent || '')",
        timeout=20_000,
    )
    seen = {text.inner_text()}
    # ...and ends at done, with a full bar, without reloading the page
    page.wait_for_function(
        "() => (document.querySelector('#sync-1 .progress-text')?.textContent || '')"
        ".startsWith('Sync done')",
        timeout=60_000,
    )
    assert text.inner_text() == f"Sync done: {ORDERS} orders read"
    bar = page.locator("#sync-1 progress")
    assert bar.get_attribute("value") == bar.get_attribute("max") == "1"
    assert any(re.match(r"Syncing: \d+ orders read", s) for s in seen)
    assert page.locator("#sync-1").get_attribute("hx-trigger") is None  # polling stopped
    assert page.locator("#sync-1 .status").inner_text() == "ok"
    assert Order.select().count() == ORDERS
    assert SellerAccount.get().last_sync_at is not None
    assert page.console_errors == []
