"""Every page at a phone's width in real Chromium: nothing wider than the screen, every
form control labelled, and the navigation reachable from the keyboard."""

from __future__ import annotations

import pytest

from core.demo import load_demo
from core.models import Campaign, Order, Step
from tests.support.web import browser_login

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 800}
UNLABELLED = """() => [...document.querySelectorAll(
    'input:not([type=hidden]):not([type=submit]):not([type=button]), select, textarea')]
  .filter(el => el.offsetParent !== null)
  .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""
OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def test_every_page_fits_a_phone_and_labels_its_controls(live_server, page, engine):
    load_demo(engine)
    campaign = Campaign.select().first()
    step = Step.select().where(Step.campaign == campaign).first()
    paths = [
        "/",
        "/orders/",
        f"/orders/{Order.select().first().id}",
        "/messages/",
        "/campaigns/",
        f"/campaigns/{campaign.id}",
        f"/campaigns/{campaign.id}/steps/{step.id}",
        "/campaigns/new",
        "/templates/",
        "/files/",
        "/accounts/",
        "/accounts/new",
        "/plugins/",
        "/settings/",
    ]
    page.set_viewport_size(PHONE)
    browser_login(page, live_server)
    problems = {}
    for path in paths:
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        wider = page.evaluate(OVERFLOW)
        unlabelled = page.evaluate(UNLABELLED)
        if wider > 1 or unlabelled:
            problems[path] = {"wider_by_px": wider, "unlabelled": unlabelled}
    assert not problems, problems
    assert page.console_errors == []


def test_navigation_is_reachable_with_the_keyboard(live_server, page):
    browser_login(page, live_server)
    page.keyboard.press("Tab")
    first = page.evaluate("() => document.activeElement.textContent.trim()")
    seen = [first]
    for _ in range(12):
        page.keyboard.press("Tab")
        seen.append(page.evaluate("() => document.activeElement.textContent.trim()"))
    assert {"Orders", "Messages", "Campaigns", "Templates"} <= set(seen), seen
    while page.evaluate("() => document.activeElement.textContent.trim()") != "Campaigns":
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(live_server + "/campaigns/")
