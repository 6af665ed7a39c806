"""The dashboard through Flask's test client: the 30-day chart and its numbers, review
request coverage, daily-limit gauges, what needs a person, the buyer-reply clock, and
that no aggregate on the page scans a whole table."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

from core.clock import utcnow
from core.inbox import record_buyer_message
from core.models import AuditLog, Message
from tests.support.outbox import add_message, campaign_step, flashes, stored_order, user_client
from tests.support.web import csrf_token


def test_chart_counts_the_last_30_days_by_state(signed_in, account):
    steps = [campaign_step(f"C{n}", delay_days=n) for n in range(3)]
    orders = [stored_order(account, "US", delivered_days_ago=8) for _ in range(3)]
    now = utcnow()
    for order, step, state in [
        (orders[0], steps[0], "sent"),
        (orders[0], steps[1], "sent"),
        (orders[0], steps[2], "scheduled"),
        (orders[1], steps[0], "retry"),
        (orders[1], steps[1], "skipped"),
        (orders[1], steps[2], "failed"),
    ]:
        add_message(order, step, state, due_at=now, sent_at=now if state == "sent" else None)
    three_ago, old = now - timedelta(days=3), now - timedelta(days=45)
    add_message(orders[2], steps[0], "sent", due_at=three_ago, sent_at=three_ago)
    add_message(orders[2], steps[1], "sent", due_at=old, sent_at=old)  # too old
    page = signed_in.get("/").get_data(as_text=True)
    svg = re.search(r"<svg class=\"chart\".*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and '<title id="daily-title">Messages per day' in svg
    assert "Totals: Sent: 3; Scheduled: 2; Skipped: 1; Failed: 1." in svg
    assert svg.count("<rect") == 5  # today's four layers and the sent bar three days ago
    today = re.search(rf"<th scope=\"row\">{now:%Y-%m-%d}</th>(.*?)</tr>", page).group(1)
    assert re.findall(r">(\d+)<", today) == ["2", "2", "1", "1"]
    three = re.search(
        rf"<th scope=\"row\">{now - timedelta(days=3):%Y-%m-%d}</th>(.*?)</tr>", page
    ).group(1)
    assert re.findall(r">(\d+)<", three) == ["1", "0", "0", "0"]


def test_scheduled_card_counts_the_coming_week_and_its_link_lists_the_same(signed_in, account):
    """A seller's scheduled messages are due in the future: the card must count them (not
    show 0 next to "N on the way") and its link must list exactly those messages."""
    step = campaign_step()
    later = campaign_step("Later", delay_days=9)
    order = stored_order(account, "US", delivered_days_ago=1)
    now = utcnow()
    soon = add_message(order, step, "scheduled", due_at=now + timedelta(days=3))
    retrying = add_message(order, later, "retry", due_at=now + timedelta(days=1))
    add_message(stored_order(account, "US"), step, "scheduled", due_at=now + timedelta(days=20))
    page = signed_in.get("/").get_data(as_text=True)
    card = re.search(
        r'<a class="card state-scheduled" href="([^"]+)"><span class="num">(\d+)<', page
    )
    assert card.group(2) == "2"  # the one due in 20 days is beyond the chart
    three = re.search(
        rf"<th scope=\"row\">{now + timedelta(days=3):%Y-%m-%d}</th>(.*?)</tr>", page
    ).group(1)
    assert re.findall(r">(\d+)<", three) == ["0", "1", "0", "0"]
    listed = signed_in.get(card.group(1).replace("&amp;", "&")).get_data(as_text=True)
    ids = set(re.findall(r'href="/messages/(\d+)"', listed))
    assert ids == {str(soon.id), str(retrying.id)}


def test_review_request_coverage(signed_in, account):
    step = campaign_step()
    other = campaign_step("Manual", message_type="")
    covered = stored_order(account, "US", delivered_days_ago=8)
    add_message(covered, step, "sent", sent_at=utcnow())
    stored_order(account, "US", delivered_days_ago=10)  # eligible, nothing planned
    pending = stored_order(account, "DE", delivered_days_ago=12)
    add_message(pending, step, "scheduled")
    not_review = stored_order(account, "US", delivered_days_ago=9)
    add_message(not_review, other, "sent", review_request=False)  # not a review request
    # Not eligible: refunded, window not open yet, window opened more than 30 days ago.
    refunded = stored_order(account, "US", delivered_days_ago=8, events={})
    from core.models import OrderEvent

    OrderEvent.create(order=refunded, kind="refunded", occurred_at=utcnow(), source="t")
    stored_order(account, "US", delivered_days_ago=2)
    stored_order(account, "US", days_ago=60, delivered_days_ago=50)
    page = signed_in.get("/").get_data(as_text=True)
    assert "<strong>1</strong> of 4 eligible orders got a review request (1 as dry runs)" in page
    assert "<strong>1</strong> on the way" in page and "<strong>2</strong> without one" in page
    assert '<p class="big">25%</p>' in page
    assert 'max="4" value="1"' in page


def test_daily_limit_gauge_per_account(signed_in, account):
    step = campaign_step(sender="dry_run")
    orders = [stored_order(account, "US", days_ago=2 + n % 5) for n in range(7)]
    for order in orders[:2]:  # two real sends today count; a dry run does not
        add_message(order, step, "sent", sent_at=utcnow(), dry_run=False)
    add_message(orders[2], step, "sent", sent_at=utcnow(), dry_run=True)
    page = signed_in.get("/").get_data(as_text=True)
    # 7 orders over the last 7 days: 5 x 1 + 600 (Amazon's daily limit).
    assert "2 / 605 today" in page
    assert re.search(rf'<meter id="limit-{account.id}" [^>]*max="605"[^>]* value="2"', page)
    assert f'<label for="limit-{account.id}">{account.name}</label>' in page


def test_attention_lists_link_and_retry_back_to_the_dashboard(signed_in, account):
    step = campaign_step()
    failed = add_message(
        stored_order(account, "US", delivered_days_ago=8), step, "failed", error="HTTP 500"
    )
    doubt = add_message(
        stored_order(account, "US", delivered_days_ago=8), step, "in_doubt", error="timeout"
    )
    page = signed_in.get("/").get_data(as_text=True)
    assert f'href="/messages/{doubt.id}#resolve"' in page and "timeout" in page
    assert f'action="/messages/{failed.id}/retry"' in page and "HTTP 500" in page
    response = signed_in.post(
        f"/messages/{failed.id}/retry", data={"csrf_token": csrf_token(signed_in), "next": "/"}
    )
    assert response.status_code == 302 and response.location == "/"
    page = signed_in.get("/").get_data(as_text=True)
    assert any("scheduled again" in f for f in flashes(page))
    assert f'action="/messages/{failed.id}/retry"' not in page
    assert Message.get_by_id(failed.id).state == "scheduled"
    assert AuditLog.select().where(AuditLog.action == "message_retried").count() == 1
    evil = signed_in.post(
        f"/messages/{doubt.id}/resolve",
        data={"csrf_token": csrf_token(signed_in), "decision": "sent", "next": "//evil.test/"},
    )
    assert evil.location == f"/messages/{doubt.id}"  # never an off-site redirect


def test_viewer_sees_no_retry_button(app, account):
    step = campaign_step()
    add_message(stored_order(account, "US", delivered_days_ago=8), step, "failed", error="x")
    page = user_client(app, "viewer").get("/").get_data(as_text=True)
    assert "Failed" in page and "Retry</button>" not in page


def test_unanswered_buyer_messages_with_the_24_hour_clock(signed_in, account):
    order = stored_order(account, "US", delivered_days_ago=8)
    now = utcnow()
    record_buyer_message(
        message_id="<late@x>",
        from_address="a@marketplace.amazon.com",
        subject="Where is my parcel?",
        received_at=now - timedelta(hours=30),
        order=order,
    )
    record_buyer_message(
        message_id="<fresh@x>",
        from_address="b@marketplace.amazon.com",
        subject="Colour question",
        received_at=now - timedelta(hours=2),
    )
    answered, _ = record_buyer_message(
        message_id="<done@x>", from_address="c@x", subject="Answered one", received_at=now
    )
    from core.inbox import mark_answered

    mark_answered(answered.id)
    page = signed_in.get("/").get_data(as_text=True)
    assert "overdue by 6 h" in page and "Where is my parcel?" in page
    assert f'href="/orders/{order.id}"' in page
    assert "22 h left" in page and "Colour question" in page
    assert "Answered one" not in page


def test_sync_status_fragment_is_loaded_only_when_the_endpoint_exists(app, signed_in):
    page = signed_in.get("/").get_data(as_text=True)
    if "accounts.sync_status" in app.view_functions:
        assert 'hx-get="/accounts/sync-status" hx-trigger="load" hx-swap="outerHTML"' in page
    else:  # no request that would 404 in the browser console
        assert 'hx-get="/accounts/sync-status"' not in page
    assert '<div id="sync-status"' in page


def test_no_aggregate_scans_a_whole_table(signed_in, engine, account, caplog):
    """Every COUNT/SUM/GROUP BY the dashboard runs is an index SEARCH (bounded by a date
    range, an account or a state), so the page stays fast at millions of messages."""
    step = campaign_step()
    for days in (3, 8, 20):
        add_message(stored_order(account, "US", delivered_days_ago=days), step, "sent")
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        assert signed_in.get("/").status_code == 200
    statements = [r.msg for r in caplog.records if isinstance(r.msg, tuple)]
    aggregates = [
        (sql, params)
        for sql, params in statements
        if re.search(r"\b(COUNT|SUM)\(", sql) and re.search(r'FROM "(message|order)"', sql)
    ]
    assert len(aggregates) >= 4  # chart, coverage, attention counts, daily limit
    for sql, params in aggregates:
        plan = [row[-1] for row in engine.db.execute_sql(f"EXPLAIN QUERY PLAN {sql}", params)]
        scans = [line for line in plan if re.match(r"SCAN (t\d+|message|order)\b", line)]
        assert not scans, (sql, plan)


def test_coverage_is_measured_on_the_newest_eligible_orders(signed_in, account, monkeypatch):
    from web import dashboard

    monkeypatch.setattr(dashboard, "COVERAGE_SAMPLE", 2)
    step = campaign_step()
    newest = stored_order(account, "US", delivered_days_ago=6)
    add_message(newest, step, "sent", sent_at=utcnow())
    stored_order(account, "US", delivered_days_ago=7)
    old = stored_order(account, "US", delivered_days_ago=20)  # outside the 2-order sample
    add_message(old, step, "sent", sent_at=utcnow())
    page = signed_in.get("/").get_data(as_text=True)
    assert "<strong>1</strong> of 2 eligible orders" in page
    assert "Measured on the 2 most recent eligible orders" in page
