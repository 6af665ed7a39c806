"""Real Chromium on the Campaigns pages: create a campaign from a preset of the
``sequences`` plugin, watch the live preview flag a compliance error and clear it as the
text is edited, save the text as a new version, then activate the campaign."""

from __future__ import annotations

import pytest

from core.models import Campaign
from core.store import store_orders
from tests.conftest import order_data
from tests.support.web import browser_login

PLUGINS = ["amazon", "demo", "email", "sequences"]
PUSHY = " If you like it, please leave a 5-star review."

pytestmark = pytest.mark.browser


@pytest.fixture
def engine(make_engine):
    return make_engine(plugins={"enabled": PLUGINS})


@pytest.fixture
def orders(engine, account):
    store_orders(account, [order_data("US", delivered_days_ago=d) for d in (2, 6)], "test")


def test_create_preview_and_activate(orders, live_server, page):
    url = live_server
    browser_login(page, url)
    page.get_by_role("link", name="Campaigns", exact=True).click()
    page.get_by_text("No campaigns yet").wait_for()
    page.get_by_role("link", name="Create a campaign from a preset").click()
    page.get_by_label("Marketplace").select_option("US")
    page.get_by_label("FBA (Amazon ships)").check()
    page.get_by_role("button", name="Show presets").click()
    label = "FBA US: instructions on delivery, then Request a Review"
    page.get_by_role("button", name=f"Create “{label}”").click()
    page.get_by_text("created as a draft").wait_for()
    page.get_by_role("link", name="Product instructions on the delivery day").click()

    body = page.get_by_label("Text (en)")
    preview = page.locator("#preview")
    original = body.input_value()
    assert "{{ order_id }}" in original  # the library text, imported with the preset
    preview.locator(".camp-rendered").wait_for()
    body.fill(original + PUSHY)
    finding = preview.locator(".camp-finding-error", has_text="FU-REVIEW-POSITIVE")
    finding.wait_for()  # htmx re-rendered the preview as the text changed
    assert preview.locator("mark[title^='FU-REVIEW-POSITIVE']").inner_text() == "5-star"
    assert "{{ order_id }}" not in preview.locator(".camp-rendered").inner_text()
    body.fill(original + " Enjoy your new product.")
    finding.wait_for(state="detached")
    assert "Enjoy your new product." in preview.locator(".camp-rendered").inner_text()

    page.get_by_role("button", name="Save text as a new version").click()
    page.get_by_text("Saved as version 2").wait_for()
    page.get_by_role("link", name=f"← {label}").click()
    page.get_by_role("link", name="Activate…").click()
    page.get_by_label("Yes, activate this campaign").check()
    page.get_by_role("button", name="Activate", exact=True).click()
    page.get_by_text("is now active").wait_for()
    assert Campaign.get().status == "active"
    assert page.console_errors == []


def test_manual_per_product_then_remove_a_step_with_the_dialog(orders, live_server, page):
    from core.models import Step

    url = live_server
    browser_login(page, url)
    page.goto(f"{url}/campaigns/new?marketplace=US&fulfillment=FBA")
    label = "FBA US: instructions on delivery, then Request a Review"
    page.get_by_role("button", name=f"Create “{label}”").click()
    page.get_by_text("created as a draft").wait_for()
    page.get_by_role("link", name="Product instructions on the delivery day").click()

    warning = page.locator("#preview .camp-no-manual")
    warning.get_by_text("No manual for this product (SKU-1)").wait_for()
    warning.get_by_role("link", name="Add the manual link in the per-product content").click()
    page.get_by_label("SKU, row 1").fill("SKU-1")
    page.get_by_label("Manual link, row 1").fill("https://example.com/manuals/sku-1.pdf")
    page.get_by_role("button", name="Save per-product content").click()
    page.get_by_text("Per-product content saved for 1 SKU.").wait_for()
    rendered = page.locator("#preview .camp-rendered")
    assert "https://example.com/manuals/sku-1.pdf" in rendered.inner_text()
    assert page.locator("#preview .camp-no-manual").count() == 0

    page.get_by_role("link", name=f"← {label}").click()
    page.once("dialog", lambda dialog: dialog.accept())  # htmx's hx-confirm
    page.get_by_role("link", name="Remove… step 2").click()
    page.get_by_text("removed; 0 waiting messages cancelled").wait_for()
    assert [s.position for s in Step.select()] == [1]
    assert page.console_errors == []
