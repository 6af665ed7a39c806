"""Time zone and test mode set in the browser: validated with the field named, audited,
in force at once in the admin and the dispatcher (no restart), winning over config.toml
until "Use config.toml"."""

from __future__ import annotations

from datetime import datetime

import pytest

from core import hookimpl, runtime_settings
from core.contracts import SENT, Sender, SendResult
from core.dispatch import dispatch_due
from core.models import AuditLog, Campaign, Message, SellerAccount, Step
from core.planning import plan_orders
from tests.support.outbox import stored_order
from tests.support.web import csrf_token, login, make_admin
from web import create_app


class Live:
    """A live channel recording what reached it."""

    def __init__(self):
        self.received: list[str] = []

    def send(self, engine, message, order, rendered):
        self.received.append(order.order_id)
        return SendResult(SENT, "accepted")

    @hookimpl
    def register_senders(self, engine):
        return [
            Sender("live_review", "Live review", self.send, review_request=True, needs_body=False)
        ]


@pytest.fixture
def live(make_engine):
    channel = Live()
    engine = make_engine(extra_plugins=[("live", channel)])
    app = create_app(engine=engine)
    app.config["TESTING"] = True
    make_admin()
    client = app.test_client()
    assert login(client).status_code == 302
    account = SellerAccount.create(name="S", source="demo", marketplaces=["US"])
    return engine, channel, client, account


def save(client, **form):
    return client.post("/settings/", data={"csrf_token": csrf_token(client, "/settings/"), **form})


def review_step() -> Step:
    campaign = Campaign.create(name="Reviews", status="active")
    return Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="live_review",
        message_type="review_request",
        delay_days=0,
        window_start_hour=0,
        window_end_hour=24,
    )


def test_time_zone_saved_in_the_browser_applies_at_once(live):
    engine, _, client, account = live
    order = stored_order(account)
    order.purchased_at = datetime(2026, 11, 12, 23, 30)
    order.save()
    assert "2026-11-12 23:30" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    response = save(client, timezone="Asia/Tokyo")
    assert response.status_code == 302
    assert "2026-11-13 08:30" in client.get(f"/orders/{order.id}").get_data(as_text=True)
    entry = AuditLog.get(AuditLog.action == "setting_changed")
    assert entry.target == "app.timezone" and entry.detail == "UTC -> Asia/Tokyo"
    assert runtime_settings.source(engine, "app", "timezone") == "browser"
    reset = client.post(
        "/settings/",
        data={"csrf_token": csrf_token(client, "/settings/"), "reset": "app.timezone"},
    )
    assert reset.status_code == 302
    assert runtime_settings.timezone(engine) == "UTC"


def test_a_bad_time_zone_is_refused_naming_the_field(live):
    engine, _, client, _ = live
    response = save(client, timezone="Mars/Olympus")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Time zone: &#39;Mars/Olympus&#39; is not a time zone name" in page
    assert 'value="Mars/Olympus"' in page  # what was typed stays in the field
    assert runtime_settings.timezone(engine) == "UTC"
    assert not AuditLog.select().where(AuditLog.action == "setting_changed").exists()


def test_test_mode_switched_on_in_the_browser_stops_live_sends_at_once(live):
    engine, channel, client, account = live
    review_step()
    order = stored_order(account, delivered_days_ago=8)  # due now
    plan_orders(engine, [order.id])
    planned = Message.get()
    assert planned.sender == "live_review" and not planned.dry_run
    save(client, timezone="UTC", test_mode="on")
    moved = Message.get_by_id(planned.id)  # re-planned: the dry-run sender now
    assert moved.sender == "dry_run" and moved.dry_run
    dispatch_due(engine)
    assert channel.received == []
    assert Message.get_by_id(planned.id).state == "sent"  # a dry run
    assert AuditLog.get(AuditLog.target == "app.test_mode").detail == "False -> True"


def test_a_live_message_planned_before_test_mode_waits(live):
    engine, channel, client, account = live
    review_step()
    order = stored_order(account, delivered_days_ago=8)
    plan_orders(engine, [order.id])
    # Switched on elsewhere (another process): the message was not re-planned yet.
    runtime_settings.save(engine, "app.test_mode", "on", by="other")
    dispatch_due(engine)
    message = Message.get()
    assert channel.received == [] and message.state == "scheduled"
    assert message.reason.startswith("waiting: test mode is on")


def test_only_an_admin_changes_settings(live):
    engine, _, client, _ = live
    make_admin("vera", role="editor")
    editor = create_app(engine=engine).test_client()
    login(editor, "vera")
    page = editor.get("/settings/").get_data(as_text=True)
    assert "only an admin can change it" in page
    refused = editor.post(
        "/settings/", data={"csrf_token": csrf_token(editor, "/settings/"), "timezone": "UTC"}
    )
    assert refused.status_code == 403
