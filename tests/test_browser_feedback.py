"""Seller feedback as a seller sees it in Chromium: read from the fake SP-API by the
plugin's job, the dashboard's alert leads to the Feedback page and on to the order,
whose page says no review request follows; all of it fits a phone."""

from __future__ import annotations

import pytest

from core.models import Order
from plugins.amazon import feedback
from tests.fake_spapi.harness import amazon_settings, connect, sync_and_plan
from tests.support.web import browser_login, make_admin, serve
from web import create_app

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("fresh_limiter")]

BAD, MEH = "302-9200000-0000001", "302-9200000-0000002"


def test_from_the_dashboard_alert_to_the_order(make_engine, fake, page):
    for oid in (BAD, MEH):
        fake.add_order(oid, delivered_days_ago=9)
    fake.add_feedback(BAD, 1, days_ago=2, comments="Defekt angekommen")
    fake.add_feedback(MEH, 3, days_ago=1, comments="Ok")
    engine = make_engine(plugin_settings=amazon_settings(fake, report_poll_seconds=0.01))
    account = connect(engine)
    sync_and_plan(engine, account)
    assert feedback.run(engine) == 2
    app = create_app(engine=engine)
    make_admin()
    url, server = serve(app)
    try:
        page.set_viewport_size({"width": 375, "height": 800})
        browser_login(page, url)
        alert = page.get_by_role("alert").filter(has_text="Seller feedback to look at")
        assert "1 negative and 1 neutral" in alert.inner_text()
        page.get_by_role("link", name="All negative and neutral feedback").click()
        page.wait_for_url(url + "/feedback/")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
        row = page.get_by_role("row").filter(has_text=BAD)
        assert "1 ★ negative" in row.inner_text() and "Defekt angekommen" in row.inner_text()
        row.get_by_role("link", name=BAD).click()
        page.wait_for_url(f"{url}/orders/{Order.get(Order.order_id == BAD).id}")
        facts = page.locator("dl.facts").inner_text()
        assert "1 ★ negative" in facts and "no review request after negative feedback" in facts
        assert not page.console_errors
    finally:
        server.close()
