"""The Messages page through Flask's test client: filters, keyset pages, the detail view,
a person's actions (retry, resolve in doubt, cancel) with roles, CSRF and audit, and the
streamed CSV export."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import Attempt, AuditLog, Message, SellerAccount
from tests.support.outbox import add_message, campaign_step, flashes, stored_order, user_client
from tests.support.web import csrf_token


def ids_on(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'aria-label="Message (\d+) details"', page)]


@pytest.fixture
def outbox(account):
    """Two campaigns over US and DE orders, messages in several states."""
    review = campaign_step("Review")
    manual = campaign_step("Manual", message_type="", delay_days=1)
    us = [stored_order(account, "US", delivered_days_ago=8) for _ in range(3)]
    de = stored_order(account, "DE", delivered_days_ago=8)
    return {
        "review": review,
        "manual": manual,
        "us": us,
        "de": de,
        "sent": add_message(us[0], review, "sent", sent_at=utcnow(), reason="dry run: recorded"),
        "failed": add_message(us[1], review, "failed", error="=HYPERLINK(evil) 500 from API"),
        "doubt": add_message(us[2], review, "in_doubt", error="timeout during the call"),
        "scheduled": add_message(de, review, "scheduled", due_at=utcnow() + timedelta(days=2)),
        "old": add_message(us[0], manual, "skipped", due_at=utcnow() - timedelta(days=40)),
    }


def test_filters_by_state_campaign_account_marketplace_and_date(signed_in, outbox, account):
    other = SellerAccount.create(name="Other seller", source="demo", marketplaces=["US"])
    foreign = stored_order(other, "US", delivered_days_ago=8)
    theirs = add_message(foreign, outbox["manual"], "sent")

    def shown(query: str) -> set[int]:
        response = signed_in.get(f"/messages/?{query}")
        assert response.status_code == 200
        return set(ids_on(response.get_data(as_text=True)))

    assert shown("state=failed") == {outbox["failed"].id}
    assert shown(f"campaign={outbox['manual'].campaign_id}") == {outbox["old"].id, theirs.id}
    assert shown(f"account={other.id}") == {theirs.id}
    assert shown("marketplace=DE") == {outbox["scheduled"].id}
    today = utcnow().date()
    recent = shown(f"from={today - timedelta(days=1)}&to={today + timedelta(days=3)}")
    assert outbox["old"].id not in recent and outbox["scheduled"].id in recent
    assert shown(f"to={today - timedelta(days=30)}") == {outbox["old"].id}
    page = signed_in.get("/messages/?from=yesterday").get_data(as_text=True)
    assert "use a date like" in page  # a bad date is ignored and said so, not a 500
    empty = signed_in.get("/messages/?state=cancelled").get_data(as_text=True)
    assert "match these filters" in empty and "Clear the filters" in empty


def test_keyset_pages_never_repeat_a_message(signed_in, account):
    steps = [campaign_step(f"C{n}", delay_days=n) for n in range(3)]
    for _ in range(20):
        order = stored_order(account, "US", delivered_days_ago=8)
        for step in steps:
            add_message(order, step, "sent")
    first = signed_in.get("/messages/?state=sent").get_data(as_text=True)
    page1 = ids_on(first)
    assert len(page1) == 50 and page1 == sorted(page1, reverse=True)
    nxt = re.search(r'href="(/messages/\?[^"]*after=\d+[^"]*)"', first).group(1)
    second = signed_in.get(nxt.replace("&amp;", "&")).get_data(as_text=True)
    page2 = ids_on(second)
    assert len(page2) == 10 and not set(page1) & set(page2)
    assert "More →" not in second
    fragment = signed_in.get("/messages/?state=sent", headers={"HX-Request": "true"})
    assert b"<html" not in fragment.data and b"<table>" in fragment.data


def test_detail_shows_text_attempts_and_error(signed_in, outbox):
    failed = outbox["failed"]
    Message.update(subject="Thanks", body="Hello Ana, how is your kettle?", language="en").where(
        Message.id == failed.id
    ).execute()
    start = utcnow() - timedelta(minutes=5)
    Attempt.create(
        message=failed,
        started_at=start,
        finished_at=start + timedelta(seconds=2),
        outcome="retry",
        detail="429 throttled",
    )
    Attempt.create(message=failed, started_at=start + timedelta(minutes=2), outcome="failed")
    page = signed_in.get(f"/messages/{failed.id}").get_data(as_text=True)
    assert "Hello Ana, how is your kettle?" in page
    assert "429 throttled" in page and page.count("<tr><td>") == 2
    assert "=HYPERLINK(evil) 500 from API" in page
    assert signed_in.get("/messages/999999").status_code == 404


def test_retry_failed_message_is_audited_and_then_sent_by_dispatch(signed_in, outbox, engine):
    failed = outbox["failed"]
    token = csrf_token(signed_in, f"/messages/{failed.id}")
    response = signed_in.post(f"/messages/{failed.id}/retry", data={"csrf_token": token})
    assert response.status_code == 302
    page = signed_in.get(response.location).get_data(as_text=True)
    assert any("scheduled again" in f for f in flashes(page))
    message = Message.get_by_id(failed.id)
    assert message.state == "scheduled" and message.error == "" and message.attempts == 0
    entry = AuditLog.get(AuditLog.action == "message_retried")
    assert entry.user == "admin" and entry.target == f"message {failed.id}"
    dispatch_due(engine)
    assert Message.get_by_id(failed.id).state == "sent"  # the dry-run sender records it
    again = signed_in.post(f"/messages/{failed.id}/retry", data={"csrf_token": token})
    assert any("nothing to retry" in f for f in flashes(signed_in.get(again.location).text))


def test_send_again_needs_explicit_confirmation(signed_in, outbox):
    doubt = outbox["doubt"]
    page = signed_in.get(f"/messages/{doubt.id}").get_data(as_text=True)
    assert "the buyer receives it twice" in page
    token = csrf_token(signed_in, f"/messages/{doubt.id}")
    refused = signed_in.post(
        f"/messages/{doubt.id}/resolve", data={"csrf_token": token, "decision": "again"}
    )
    assert refused.status_code == 422
    assert b"Tick the confirmation box" in refused.data
    assert Message.get_by_id(doubt.id).state == "in_doubt"
    ok = signed_in.post(
        f"/messages/{doubt.id}/resolve",
        data={"csrf_token": token, "decision": "again", "confirm_twice": "yes"},
    )
    assert ok.status_code == 302
    message = Message.get_by_id(doubt.id)
    assert message.state == "scheduled" and "may reach the buyer twice" in message.reason
    assert AuditLog.get(AuditLog.action == "in_doubt_sent_again").user == "admin"


def test_mark_in_doubt_as_sent(signed_in, outbox):
    doubt = outbox["doubt"]
    token = csrf_token(signed_in, f"/messages/{doubt.id}")
    signed_in.post(f"/messages/{doubt.id}/resolve", data={"csrf_token": token, "decision": "sent"})
    message = Message.get_by_id(doubt.id)
    assert message.state == "sent" and message.sent_at is not None
    assert message.reason == "marked as sent by admin"
    assert AuditLog.select().where(AuditLog.action == "in_doubt_marked_sent").count() == 1


def test_cancel_scheduled_but_not_sent(signed_in, outbox):
    scheduled, sent = outbox["scheduled"], outbox["sent"]
    token = csrf_token(signed_in, f"/messages/{scheduled.id}")
    signed_in.post(
        f"/messages/{scheduled.id}/cancel", data={"csrf_token": token, "reason": "buyer called"}
    )
    message = Message.get_by_id(scheduled.id)
    assert message.state == "cancelled" and message.reason == "cancelled by admin: buyer called"
    assert AuditLog.get(AuditLog.action == "message_cancelled").target == f"message {scheduled.id}"
    response = signed_in.post(f"/messages/{sent.id}/cancel", data={"csrf_token": token})
    assert any("can be cancelled" in f for f in flashes(signed_in.get(response.location).text))
    assert Message.get_by_id(sent.id).state == "sent"


def test_viewer_reads_but_cannot_act(app, outbox):
    viewer = user_client(app, "viewer")
    failed = outbox["failed"]
    page = viewer.get(f"/messages/{failed.id}").get_data(as_text=True)
    assert "Retry</button>" not in page
    token = csrf_token(viewer, f"/messages/{failed.id}")
    for action in ("retry", "cancel", "resolve"):
        response = viewer.post(f"/messages/{failed.id}/{action}", data={"csrf_token": token})
        assert response.status_code == 403
    assert Message.get_by_id(failed.id).state == "failed"
    editor = user_client(app, "editor")
    token = csrf_token(editor, f"/messages/{failed.id}")
    assert (
        editor.post(f"/messages/{failed.id}/retry", data={"csrf_token": token}).status_code == 302
    )
    assert Message.get_by_id(failed.id).state == "scheduled"
    assert AuditLog.get(AuditLog.action == "message_retried").user == "editor"


def test_csrf_less_post_is_refused(signed_in, outbox):
    failed = outbox["failed"]
    response = signed_in.post(f"/messages/{failed.id}/retry")
    assert response.status_code == 400 and b"CSRF" in response.data
    assert Message.get_by_id(failed.id).state == "failed"
    assert not AuditLog.select().where(AuditLog.action == "message_retried").exists()


def test_csv_export_streams_the_filtered_list(signed_in, outbox):
    response = signed_in.get("/messages/export.csv?marketplace=US")
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    expected = [outbox[k] for k in ("old", "doubt", "failed", "sent")]  # newest first
    assert [int(r["message_id"]) for r in rows] == [m.id for m in expected]
    by_id = {int(r["message_id"]): r for r in rows}
    failed = by_id[outbox["failed"].id]
    assert failed["order_id"] == outbox["us"][1].order_id and failed["state"] == "failed"
    assert failed["campaign"] == "Review" and failed["dry_run"] == "1"
    assert failed["error"] == "'=HYPERLINK(evil) 500 from API"  # no formula in a spreadsheet
    only_failed = signed_in.get("/messages/export.csv?state=failed").get_data(as_text=True)
    assert [r["message_id"] for r in csv.DictReader(io.StringIO(only_failed))] == [
        str(outbox["failed"].id)
    ]
    page = signed_in.get("/messages/?state=failed").get_data(as_text=True)
    assert 'href="/messages/export.csv?state=failed"' in page


def test_csv_export_pages_through_more_than_one_batch(signed_in, account, monkeypatch):
    from web import messages as messages_view

    monkeypatch.setattr(messages_view, "EXPORT_BATCH", 7)  # several id batches, no repeats
    steps = [campaign_step(f"C{n}", delay_days=n) for n in range(3)]
    made = []
    for _ in range(6):
        order = stored_order(account, "US", delivered_days_ago=8)
        made += [add_message(order, step, "sent").id for step in steps]
    rows = list(csv.DictReader(io.StringIO(signed_in.get("/messages/export.csv").text)))
    assert [int(r["message_id"]) for r in rows] == sorted(made, reverse=True)


def test_date_range_pages_by_due_time_without_repeats(signed_in, account):
    steps = [campaign_step(f"C{n}", delay_days=n) for n in range(3)]
    now = utcnow()
    due = {}
    for k in range(20):
        order = stored_order(account, "US", delivered_days_ago=8)
        for n, step in enumerate(steps):
            when = now - timedelta(hours=(k * 7 + n * 13) % 50)  # ties and shuffled ids
            due[add_message(order, step, "sent", due_at=when).id] = when
    today = now.date()
    url = f"/messages/?state=sent&from={today - timedelta(days=5)}&to={today}"
    first = signed_in.get(url).get_data(as_text=True)
    page1 = ids_on(first)
    nxt = re.search(r'href="(/messages/\?[^"]*after=[^"]+)"', first).group(1)
    page2 = ids_on(signed_in.get(nxt.replace("&amp;", "&")).get_data(as_text=True))
    assert len(page1) == 50 and len(page2) == 10
    assert sorted(page1 + page2) == sorted(due)
    order = page1 + page2
    assert order == sorted(due, key=lambda i: (due[i], i), reverse=True)
    assert signed_in.get(url + "&after=junk").status_code == 400
