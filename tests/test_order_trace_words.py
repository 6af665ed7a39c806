"""The order trace in plain words: a one-line summary on top, decision reasons without
"(core)" or "+ 5d 0h", "estimated delivery" when Amazon gave no date, and the trace
brought up to date by Send now."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from core.models import Message
from core.planning import plan_orders
from core.trace import plain_by, plain_reason
from tests.support.outbox import add_message, campaign_step, stored_order
from tests.support.web import csrf_token

UTC_TZ = ZoneInfo("UTC")


def summary_of(client, order) -> str:
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    start = page.index('id="trace-summary"')
    return html.unescape(page[page.index(">", start) + 1 : page.index("</p>", start)])


def test_reasons_and_deciders_in_plain_words():
    stored = "planned for 2026-11-12 09:00 UTC: delivered 2026-11-07 14:00 + 5d 0h"
    assert plain_reason(stored) == (
        "planned for 2026-11-12 09:00 (UTC), counting from delivered 2026-11-07 14:00, then 5 days"
    )
    estimated = plain_reason(stored, delivery_estimated=True)
    assert "estimated delivery 2026-11-07" in estimated and "+ 5d" not in estimated
    assert plain_reason("x + 1d 3h").endswith(", then 1 day and 3 hours")
    assert plain_by("core") == "Followup's scheduler"
    assert plain_by("veto") == "a safety check"
    labels = {"not_cancelled": "Not cancelled"}
    assert plain_by("not_cancelled", labels) == "the rule “Not cancelled”"


def test_summary_says_when_the_review_request_was_sent(signed_in, account):
    step = campaign_step()
    order = stored_order(account)
    add_message(order, step, "sent", sent_at=datetime(2026, 11, 12, 10), dry_run=False)
    assert summary_of(signed_in, order) == "Review request sent on 12 Nov."


def test_summary_names_the_refund_that_stopped_the_review_request(signed_in, engine, account):
    campaign_step()
    order = stored_order(account, events={"refunded": datetime(2026, 11, 4, 15, tzinfo=UTC)})
    plan_orders(engine, [order.id])
    assert summary_of(signed_in, order) == "No review request: the order was refunded on 4 Nov."


def test_summary_of_a_planned_and_a_quiet_order(signed_in, engine, account):
    order = stored_order(account)
    assert summary_of(signed_in, order).startswith("Nothing planned")
    campaign_step(delay_days=20)
    plan_orders(engine, [order.id])
    due = Message.get(Message.order == order.id).due_at
    assert summary_of(signed_in, order) == f"Review request planned for {due.day} {due:%b}."
    page = signed_in.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "(core)" not in page and "d 0h" not in page
    assert "then 20 days" in page


def test_send_now_refreshes_the_trace(signed_in, engine, account):
    step = campaign_step(delay_days=20)
    order = stored_order(account, delivered_days_ago=8)
    plan_orders(engine, [order.id])
    page = signed_in.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "planned for" in page
    token = csrf_token(signed_in, f"/orders/{order.id}")
    signed_in.post(f"/orders/{order.id}/send-now", data={"csrf_token": token, "step": step.id})
    page = html.unescape(signed_in.get(f"/orders/{order.id}").get_data(as_text=True))
    today = datetime.now(UTC)
    assert f"Review request sent on {today.day} {today:%b} as a dry run" in page
    assert "sent now by admin: sent" in page and "(decided by Send now)" in page
    assert "planned for" not in page.split("Campaign steps considered")[1].split("Messages")[0]


def test_an_estimated_delivery_is_not_called_delivered(signed_in, engine, account):
    from core.models import OrderEvent

    campaign_step(delay_days=20)
    order = stored_order(account, delivered_days_ago=8)
    OrderEvent.delete().where(
        (OrderEvent.order == order.id) & (OrderEvent.kind == "delivered")
    ).execute()
    plan_orders(engine, [order.id])
    page = html.unescape(signed_in.get(f"/orders/{order.id}").get_data(as_text=True))
    trace = page.split("Campaign steps considered")[1].split("<h2>Messages")[0]
    assert "counting from estimated delivery" in trace
    assert "from delivered " not in trace
