"""Real Chromium on the typed rule editor: choosing a rule brings its own controls
(a marketplace multi-select, number inputs...), a wrong value is refused by the server
next to the control it names, and what is saved is what the rules read."""

from __future__ import annotations

import pytest

from core.campaigns import create_campaign
from core.models import Step
from tests.support.campaigns import REVIEW_STEP
from tests.support.web import browser_login

pytestmark = pytest.mark.browser


def test_rules_are_edited_with_typed_controls(engine, live_server, page):
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    step = campaign.steps.get()
    url = live_server
    browser_login(page, url)
    page.goto(f"{url}/campaigns/{campaign.id}/steps/{step.id}")

    page.get_by_label("Rule 1").select_option(label="Marketplace is one of")
    marketplaces = page.locator("select#p1-marketplaces")
    marketplaces.wait_for()  # htmx swapped in the rule's own control
    assert marketplaces.get_attribute("multiple") is not None
    marketplaces.select_option(["DE", "US"])
    page.get_by_role("button", name="Save step").click()
    page.get_by_text("saved").first.wait_for()
    assert Step.get_by_id(step.id).rules == [
        {"rule": "marketplace_in", "params": {"marketplaces": "DE US"}}
    ]

    page.get_by_label("Rule 2").select_option(label="Order total between")
    page.locator("#p2-min").wait_for()
    assert page.locator("#p2-min").get_attribute("type") == "number"
    page.locator("#p2-min").fill("50")
    page.locator("#p2-max").fill("10")
    page.get_by_role("button", name="Save step").click()
    error = page.locator("#params-2-error")
    error.wait_for()
    assert "max: 10 is below min 50" in error.inner_text()
    assert page.locator("#p2-max").get_attribute("aria-invalid") == "true"
    assert page.locator("#p2-min").input_value() == "50"  # what was typed is kept
    page.locator("#p2-max").fill("100")
    page.get_by_role("button", name="Save step").click()
    page.get_by_text("saved").first.wait_for()
    assert Step.get_by_id(step.id).rules[1] == {
        "rule": "order_total",
        "params": {"min": "50", "max": "100"},
    }
    assert set(
        page.locator("#p1-marketplaces").evaluate("s => [...s.selectedOptions].map(o => o.value)")
    ) == {"DE", "US"}
    # The refused save answered 422 on purpose; nothing else may log an error.
    assert [e for e in page.console_errors if "status of 422" not in e] == []
