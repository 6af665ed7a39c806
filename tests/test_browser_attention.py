"""What a seller sees in real Chromium: the "Needs your attention" list and its actions,
the app-styled error pages, buttons only for roles that may use them, and the order
trace and the template editor at a phone's width (390 px)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from core.demo import load_demo
from core.models import Order, SellerAccount, Template, TemplateVariant, TemplateVersion
from tests.support.outbox import add_message, campaign_step, stored_order
from tests.support.web import browser_login, make_admin

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
# How far the page, or any element inside a horizontally scrolling box, reaches past the
# screen: a table cell hidden to the right of a scroll box is clipped for a reader.
CLIPPED = """(selector) => {
  const width = window.innerWidth;
  const page = document.documentElement.scrollWidth - width;
  const cells = [...document.querySelectorAll(selector)]
    .map(el => Math.round(el.getBoundingClientRect().right - width))
    .filter(over => over > 1);
  return {page, cells};
}"""


def test_attention_list_with_plain_sentences_and_actions(live_server, page, engine):
    account = SellerAccount.create(
        name="EU shop",
        source="amazon",
        status="error",
        status_message="sync failed: ('invalid_grant', 'The request has an invalid grant', 400)",
    )
    demo = SellerAccount.create(name="Shop", source="demo", marketplaces=["US"])
    step = campaign_step("Reviews", rules=[])
    failed = add_message(
        stored_order(demo), step, "failed", error="Amazon answered 400: InvalidInput"
    )
    browser_login(page, live_server)
    panel = page.locator("#attention-list")
    expect(panel).to_contain_text("Seller account EU shop: sync failed: Amazon refused the")
    expect(panel).to_contain_text(f"Message #{failed.id} for order")
    page.get_by_role("link", name="Attention", exact=True).click()
    page.wait_for_url(live_server + "/attention/")
    page.get_by_role("heading", name="Needs your attention").wait_for()
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(live_server + "/attention/")
    expect(page.locator("#attention-list")).not_to_contain_text(f"Message #{failed.id}")
    page.get_by_role("link", name="Check the account").click()
    page.wait_for_url(f"{live_server}/accounts/{account.id}/edit")
    assert page.console_errors == []


def test_error_pages_keep_the_navigation(live_server, page):
    browser_login(page, live_server)
    response = page.goto(live_server + "/orders/999999")
    assert response.status == 404
    page.get_by_role("heading", name="Page not found").wait_for()
    page.get_by_role("link", name="Go to the dashboard").click()
    page.wait_for_url(live_server + "/")
    response = page.goto(live_server + "/no/such/page")
    assert response.status == 404
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Orders").click()
    page.wait_for_url(live_server + "/orders/")


def test_a_viewer_sees_no_button_that_would_answer_403(live_server, page, engine):
    load_demo(engine)
    make_admin("vera", role="viewer")
    browser_login(page, live_server, "vera")
    for path in ("/files/", "/", "/blocklist/"):
        page.goto(live_server + path)
        for name in ("Delete", "Upload", "Load demo data", "Refresh demo data", "Block the buyer"):
            assert page.get_by_role("button", name=name).count() == 0, (path, name)
    order = Order.select().first()
    page.goto(f"{live_server}/orders/{order.id}")
    assert page.get_by_role("button", name="Stop messages for this order").count() == 0
    # The one page whose controls stay visible shows them disabled, and they look it.
    page.goto(live_server + "/plugins/")
    box = page.locator("input[type=checkbox][disabled]").first
    expect(box).to_be_disabled()
    page.goto(live_server + "/settings/users")
    page.get_by_role("heading", name="You may not do that").wait_for()
    page.get_by_role("navigation", name="Main").wait_for()


def test_order_trace_at_390_px_shows_every_column(live_server, page, engine):
    load_demo(engine)
    from core.models import Decision

    order = Order.get_by_id(Decision.select().first().order_id)  # one with a trace
    page.set_viewport_size(PHONE)
    browser_login(page, live_server)
    page.goto(f"{live_server}/orders/{order.id}")
    page.locator("#trace-summary").wait_for()
    found = page.evaluate(CLIPPED, "#trace-table td, #trace-table th, #trace-summary")
    assert found == {"page": 0, "cells": []}, found
    why = page.locator("#trace-table td.why").first
    expect(why).to_be_visible()
    assert page.console_errors == []


def test_template_editor_at_390_px_fits(live_server, page, engine):
    template = Template.create(name="Manual", channel="messaging", message_type="x")
    version = TemplateVersion.create(template=template, number=1)
    TemplateVariant.create(
        version=version, language="en", body="Hello, the manual for order {{ order_id }}."
    )
    page.set_viewport_size(PHONE)
    browser_login(page, live_server)
    page.goto(f"{live_server}/templates/{template.id}")
    page.get_by_label("Text (en)").wait_for()
    found = page.evaluate(CLIPPED, "main *")
    assert found == {"page": 0, "cells": []}, found
    assert page.console_errors == []


def test_a_disabled_button_looks_disabled(live_server, page, engine):
    load_demo(engine)
    make_admin("vera", role="viewer")
    from core.models import Campaign, Step

    campaign = Campaign.select().first()
    step = Step.select().where(Step.campaign == campaign).first()
    browser_login(page, live_server, "vera")
    page.goto(f"{live_server}/campaigns/{campaign.id}/steps/{step.id}")
    save = page.get_by_role("button", name="Save step")
    expect(save).to_be_disabled()
    assert float(save.evaluate("b => getComputedStyle(b).opacity")) < 0.6
    assert save.evaluate("b => getComputedStyle(b).cursor") == "not-allowed"


def test_new_pages_fit_a_phone(live_server, page, engine):
    load_demo(engine)
    order = Order.select().where(Order.buyer_key != "").first()
    page.set_viewport_size(PHONE)
    browser_login(page, live_server)
    page.goto(f"{live_server}/orders/{order.id}")
    page.get_by_label("For how many days (empty: until removed)").fill("30")
    page.get_by_role("button", name="Add the buyer to the blocklist").click()
    page.get_by_role("button", name="Undo: remove the buyer from the blocklist").wait_for()
    problems = {}
    for path in ("/attention/", "/blocklist/", "/coverage/missing", "/accounts/connect-amazon/"):
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        found = page.evaluate(CLIPPED, "main *")
        if found != {"page": 0, "cells": []}:
            problems[path] = found
    assert not problems, problems
    assert page.console_errors == []
