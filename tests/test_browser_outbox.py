"""The outbox in real Chromium: find an order and read why its message was skipped, retry
a failed message and see its new state, and a CSRF-less POST from the page refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.dispatch import dispatch_due
from core.models import AuditLog, Message, OrderEvent
from core.planning import plan_orders
from tests.support.outbox import add_message, campaign_step, stored_order
from tests.support.web import browser_login

pytestmark = pytest.mark.browser


def test_read_why_skipped_retry_failed_and_csrf_refused(live_server, page, engine, account):
    url = live_server
    step = campaign_step(delay_days=0)
    refunded = stored_order(account, "DE", delivered_days_ago=8)
    plan_orders(engine, [refunded.id])
    # Refunded after planning: the send-time re-check skips it and says why.
    OrderEvent.create(
        order=refunded, kind="refunded", occurred_at=datetime.now(UTC).replace(tzinfo=None)
    )
    dispatch_due(engine)
    assert Message.get(Message.order == refunded.id).state == "skipped"
    failed = add_message(
        stored_order(account, "US", delivered_days_ago=9), step, "failed", error="HTTP 503"
    )

    browser_login(page, url)
    page.get_by_role("heading", name="Messages per day").wait_for()
    # The live sync-status fragment replaces the server-rendered list in place.
    page.wait_for_load_state("networkidle")
    assert page.locator("#sync-status").count() == 1
    assert "Test seller" in page.locator("#sync-status").inner_text()
    page.get_by_role("link", name="Orders", exact=True).click()
    page.get_by_label("Order id (or its first digits), SKU, ASIN or title").fill(refunded.order_id)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=refunded.order_id).click()
    page.get_by_role("heading", name=f"Order {refunded.order_id}").wait_for()
    reason = page.locator("article.message").first.inner_text()
    assert "Skipped" in reason and "excluded: refunded on" in reason

    page.get_by_role("link", name="Messages", exact=True).click()
    page.get_by_label("State").select_option("failed")
    page.wait_for_url("**state=failed**")
    export = page.get_by_role("link", name="Export CSV (filtered)")
    assert export.get_attribute("href") == "/messages/export.csv?state=failed"
    page.get_by_label(f"Message {failed.id} details").click()
    page.get_by_role("heading", name=f"Message #{failed.id}").wait_for()
    assert "HTTP 503" in page.locator("dl.facts").inner_text()
    page.get_by_role("button", name="Retry").click()
    page.get_by_text(f"Message #{failed.id} is scheduled again").wait_for()
    assert page.locator("h1 .state").inner_text() == "Scheduled"
    assert Message.get_by_id(failed.id).state == "scheduled"
    assert page.console_errors == []

    # The same action without the CSRF header, from the page's own origin and cookies.
    Message.update(state="failed").where(Message.id == failed.id).execute()
    status = page.evaluate(
        "id => fetch(`/messages/${id}/retry`, {method: 'POST'}).then(r => r.status)", failed.id
    )
    assert status == 400
    assert Message.get_by_id(failed.id).state == "failed"
    assert AuditLog.select().where(AuditLog.action == "message_retried").count() == 1
    # The only console line is Chromium reporting that refused request.
    assert all("400" in e for e in page.console_errors)
