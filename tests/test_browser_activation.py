"""Real Chromium on the activation preview: a campaign about to go live says what it
would send to orders already in Followup, offers "new orders only" (the default) or a
backlog of N days, warns of another review campaign on the same orders, and the choice
confirmed is what planning applies."""

from __future__ import annotations

import pytest

from core.campaigns import create_campaign, set_status
from core.models import Campaign, Decision, Message, Order
from core.store import store_orders
from tests.conftest import order_data
from tests.support.campaigns import REVIEW_STEP
from tests.support.web import browser_login

pytestmark = pytest.mark.browser


def test_activation_preview_new_orders_only_then_a_backlog(engine, account, live_server, page):
    store_orders(
        account,
        [
            order_data("US", days_ago=12, delivered_days_ago=8),
            order_data("US", days_ago=40, delivered_days_ago=35),
        ],
        "test",
    )
    other = create_campaign(engine, "Older reviews", [REVIEW_STEP])
    set_status(engine, other, "active", backlog_days=0)
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    url = live_server
    browser_login(page, url)
    page.goto(f"{url}/campaigns/{campaign.id}")
    page.get_by_role("link", name="Activate…").click()

    preview = page.locator("#activation-preview")
    assert page.get_by_label("New orders only", exact=False).is_checked()
    assert preview.locator("[data-test=send-now]").inner_text() == "0"
    assert "2 older orders are left out" in preview.inner_text()
    assert "“Older reviews” is also active" in preview.inner_text()

    page.get_by_label("Also orders of the last").check()
    page.get_by_role("spinbutton", name="Number of days").fill("14")
    page.get_by_role("button", name="Show what this would send").click()
    preview.wait_for()
    assert preview.locator("[data-test=send-now]").inner_text() == "1"
    assert "1 older order is left out" in preview.inner_text()
    recent = Order.get(
        Order.purchased_at
        == Order.select(Order.purchased_at).order_by(Order.purchased_at.desc()).limit(1).scalar()
    )
    row = preview.locator("tbody tr")
    assert row.count() == 1 and recent.order_id in row.inner_text()

    page.get_by_label("Yes, activate this campaign").check()
    page.get_by_role("button", name="Activate", exact=True).click()
    page.get_by_text("is now active, for orders placed from").wait_for()
    assert Campaign.get_by_id(campaign.id).status == "active"
    mine = Message.select().where(Message.campaign == campaign.id)
    assert [m.order.order_id for m in mine] == [recent.order_id]
    old = Order.get(Order.order_id != recent.order_id)
    reason = Decision.get((Decision.order == old.id) & (Decision.step == campaign.steps.get()))
    assert reason.reason.startswith("excluded: ordered before the campaign's start")
    page.goto(f"{url}/orders/{old.id}")
    assert "ordered before the campaign" in page.content()
    assert page.console_errors == []
