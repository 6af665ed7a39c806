"""Real Chromium: "Load demo data", then a preset created on the demo account and
activated over the demo's past orders sends nothing to Amazon; the campaign page says
so, and the dashboard never shows the demo account as an error."""

from __future__ import annotations

import pytest

from core.models import Campaign, Message, SellerAccount
from tests.support.web import browser_login

pytestmark = pytest.mark.browser

PLUGINS = {"enabled": ["amazon", "demo", "sequences"], "entrypoints": False}


@pytest.fixture
def engine(make_engine):
    return make_engine(plugins=PLUGINS)


def test_a_preset_on_the_demo_account_stays_a_dry_run(engine, live_server, page):
    url = live_server
    browser_login(page, url)
    with page.expect_navigation():
        page.get_by_role("button", name="Load demo data").click()
    assert SellerAccount.select().where(SellerAccount.is_demo == True).count() == 1  # noqa: E712
    page.goto(f"{url}/campaigns/new?marketplace=US&fulfillment=FBA")
    label = "FBA US: Request a Review only"
    card = page.locator(".camp-presets li", has_text=label)
    card.get_by_label("Seller account").select_option(label="Demo seller")
    card.get_by_role("button", name=f"Create “{label}”").click()
    page.get_by_text("created as a draft").wait_for()
    page.get_by_text("every message goes through the dry-run sender").wait_for()

    campaign = Campaign.get(Campaign.name == label)
    step = campaign.steps.get()  # the preset has one step
    assert step.sender == "amazon_review"  # the preset's own sender, kept as set up
    page.goto(f"{url}/campaigns/{campaign.id}/status?to=active&orders=days&days=60")
    page.get_by_label("Yes, activate this campaign").check()
    page.get_by_role("button", name="Activate", exact=True).click()
    page.get_by_text("is now active").wait_for()
    mine = list(Message.select().where(Message.campaign == campaign.id))
    assert mine and {m.sender for m in mine} == {"dry_run"}

    page.goto(url + "/")
    demo = SellerAccount.get(SellerAccount.is_demo == True)  # noqa: E712
    assert demo.status != "error", demo.status_message
    assert page.locator(".status-error").count() == 0
    assert "refresh_token" not in page.content()
    assert page.console_errors == []
