"""One real Chromium run through the template editor: import from the library, insert a
placeholder from the palette, watch the live preview and lint, save, read the diff."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.support.web import browser_login

pytestmark = pytest.mark.browser

CLEAN = (
    "Hello,\n\nhere is how to set up your lamp. Before first use, please read the short "
    "manual in the box: it explains the set-up step by step.\n\nYour order: "
)


def test_edit_with_palette_live_lint_save_and_diff(live_server, page):
    browser_login(page, live_server)
    page.get_by_role("link", name="Templates").click()
    page.get_by_text("You have no templates yet").wait_for()
    page.get_by_role("button", name="Import Product instructions and manual").click()
    page.get_by_text("Imported 'Product instructions and manual'").wait_for()
    preview = page.locator("#preview")
    expect(preview).to_contain_text("No findings")

    body = page.get_by_label("Text (en)")
    body.fill(CLEAN)
    body.press("End")  # the cursor at the end of the text
    page.get_by_role("button", name="Insert order_id").click()
    assert body.input_value().endswith("Your order: {{ order_id }}")
    # the preview follows the typing (htmx, 400 ms after the last input)
    expect(preview.locator(".rendered")).to_contain_text("Your order: 305-1234567-7654321")
    expect(preview).to_contain_text("No findings")

    body.press("End")
    body.type("\n\nCall us on +49 30 12345678 if anything is unclear.")
    finding = preview.locator(".finding.sev-error")
    expect(finding).to_contain_text("FU-PHONE")
    expect(finding.locator("mark")).to_have_text("+49 30 12345678")

    body.fill(CLEAN + "{{ order_id }}")
    expect(preview).to_contain_text("No findings")
    expect(preview.locator(".finding")).to_have_count(0)

    page.get_by_label("HTML theme (all languages)").select_option("brand_bar")
    frame = page.frame_locator("iframe.html-preview")
    expect(frame.locator("div")).to_contain_text("Your order: 305-1234567-7654321")

    page.get_by_role("button", name="Save as version 2").click()
    page.get_by_text("Saved version 2 of 'Product instructions and manual'").wait_for()
    page.get_by_role("link", name="Version history and test send").click()
    expect(page.get_by_role("heading", name=re.compile("Changes from v1 to v2"))).to_be_visible()
    added = page.locator("tr.diff-added")
    expect(added.filter(has_text="Theme: brand_bar")).to_have_count(1)
    expect(added.filter(has_text="[en] Your order: {{ order_id }}")).to_have_count(1)
    expect(page.locator("tr.diff-removed").first).to_contain_text("removed")
    assert page.console_errors == []
