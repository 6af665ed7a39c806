"""The blocklist page and the undo of "Stop messages" and of a block: what a stop or a
block cancelled comes back and is judged again; expiry ends a block by itself."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.blocklist import expire_blocklist
from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import AuditLog, Message, OptOut, Order
from core.planning import plan_orders
from tests.support.outbox import campaign_step, flashes, stored_order, user_client
from tests.support.web import csrf_token


def post(client, path, page, **data):
    return client.post(path, data={"csrf_token": csrf_token(client, page), **data})


def test_stop_messages_then_undo_brings_the_message_back(signed_in, engine, account):
    campaign_step(delay_days=20)
    order = stored_order(account, delivered_days_ago=2)
    plan_orders(engine, [order.id])
    planned = Message.get(Message.order == order.id)
    page = f"/orders/{order.id}"
    post(signed_in, f"{page}/stop", page, reason="buyer asked")
    assert Message.get_by_id(planned.id).state == "cancelled"
    assert "Undo: allow messages again" in signed_in.get(page).get_data(as_text=True)
    response = post(signed_in, f"{page}/resume", page)
    said = flashes(signed_in.get(response.location).get_data(as_text=True))
    assert any("1 cancelled message(s) planned again" in f for f in said)
    back = Message.get_by_id(planned.id)  # the same row, never a second message
    assert back.state == "scheduled" and back.due_at == planned.due_at
    assert not Order.get_by_id(order.id).messages_stopped
    assert Message.select().where(Message.order == order.id).count() == 1
    assert AuditLog.get(AuditLog.action == "order_resumed").user == "admin"


def test_undo_of_a_stop_keeps_what_else_ended_a_message(signed_in, engine, account):
    step = campaign_step(delay_days=20)
    order = stored_order(account, delivered_days_ago=2)
    plan_orders(engine, [order.id])
    page = f"/orders/{order.id}"
    post(signed_in, f"{page}/stop", page, reason="buyer asked")
    # A sent message, and one the buyer's opt-out ended, are never revived.
    other = campaign_step("Other", delay_days=0)
    Message.create(
        order=order,
        step=other,
        account=account,
        sender="dry_run",
        state="sent",
        due_at=utcnow(),
        sent_at=utcnow(),
        reason="stopped by admin: x",
    )
    post(signed_in, f"{page}/resume", page)
    assert Message.get((Message.order == order.id) & (Message.step == other.id)).state == "sent"
    assert Message.get((Message.order == order.id) & (Message.step == step.id)).state == (
        "scheduled"
    )


def test_a_stop_from_an_amazon_opt_out_cannot_be_undone(signed_in, engine, account):
    from core.blocklist import stop_order_messages

    campaign_step(delay_days=20)
    order = stored_order(account, delivered_days_ago=2)
    plan_orders(engine, [order.id])
    stop_order_messages(order, "stopped: the buyer opted out (Amazon bounce on 2026-11-02)")
    page = f"/orders/{order.id}"
    response = post(signed_in, f"{page}/resume", page)
    said = flashes(signed_in.get(response.location).get_data(as_text=True))
    assert any("opted out of messages through Amazon" in f for f in said)
    assert Order.get_by_id(order.id).messages_stopped


def test_block_then_undo_on_the_order_page(signed_in, engine, account):
    campaign_step(delay_days=20)
    order = stored_order(account, delivered_days_ago=2)
    plan_orders(engine, [order.id])
    page = f"/orders/{order.id}"
    post(signed_in, f"{page}/block", page, reason="abusive", days="30")
    entry = OptOut.get(OptOut.buyer_key == order.buyer_key)
    assert entry.created_by == "admin" and entry.reason == "abusive"
    assert timedelta(days=29) < entry.expires_at - utcnow() <= timedelta(days=30)
    plan_orders(engine, [order.id])
    assert Message.get(Message.order == order.id).state == "cancelled"
    shown = signed_in.get(page).get_data(as_text=True)
    assert "Undo: remove the buyer from the blocklist" in shown
    response = post(signed_in, f"{page}/unblock", page)
    said = flashes(signed_in.get(response.location).get_data(as_text=True))
    assert any("off the blocklist; 1 message(s)" in f for f in said)
    assert not OptOut.select().exists()
    assert Message.get(Message.order == order.id).state == "scheduled"


def test_block_days_are_checked_and_the_field_named(signed_in, account):
    order = stored_order(account)
    page = f"/orders/{order.id}"
    response = post(signed_in, f"{page}/block", page, days="-4")
    assert response.status_code == 422
    assert "For how long: a whole number of days" in response.get_data(as_text=True)
    assert not OptOut.select().exists()


def test_blocklist_page_lists_adds_and_removes(signed_in, engine, account):
    order = stored_order(account)
    stored_order(account, buyer_key=order.buyer_key)  # the same buyer's second order
    missing = post(signed_in, "/blocklist/", "/blocklist/", order_id="111-0000000-0000000")
    assert missing.status_code == 422
    assert "no order 111-0000000-0000000 is stored" in missing.get_data(as_text=True)
    post(signed_in, "/blocklist/", "/blocklist/", order_id=order.order_id, reason="chargeback")
    listing = signed_in.get("/blocklist/").get_data(as_text=True)
    assert "chargeback" in listing and "until removed" in listing
    assert "and 1 more order(s)" in listing and "by admin" in listing
    entry = OptOut.get()
    post(signed_in, f"/blocklist/{entry.id}/remove", "/blocklist/")
    assert "Nobody is on the blocklist" in signed_in.get("/blocklist/").get_data(as_text=True)


def test_an_expired_block_ends_by_itself_and_its_messages_return(engine, account):
    from core.blocklist import block_buyer

    campaign_step(delay_days=20)
    order = stored_order(account, delivered_days_ago=2)
    plan_orders(engine, [order.id])
    block_buyer(order.buyer_key, "for a week", expires_at=utcnow() + timedelta(days=7))
    plan_orders(engine, [order.id])
    dispatch_due(engine)
    assert Message.get().state == "cancelled"
    assert expire_blocklist(engine) == 0
    assert expire_blocklist(engine, now=utcnow() + timedelta(days=8)) == 1
    assert not OptOut.select().exists()
    assert Message.get().state == "scheduled"
    assert "expired" in AuditLog.get(AuditLog.action == "buyer_unblocked").detail


def test_viewer_sees_the_blocklist_without_buttons(app, signed_in, account):
    order = stored_order(account)
    post(signed_in, "/blocklist/", "/blocklist/", order_id=order.order_id)
    viewer = user_client(app, "viewer")
    page = viewer.get("/blocklist/").get_data(as_text=True)
    assert order.order_id in page
    assert "Remove from the blocklist" not in page and "Block the buyer" not in page
    entry = OptOut.get()
    token = csrf_token(viewer, "/blocklist/")
    refused = viewer.post(f"/blocklist/{entry.id}/remove", data={"csrf_token": token})
    assert refused.status_code == 403
    assert OptOut.select().exists()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_0020_adds_who_and_until_to_an_older_database(make_engine, request, backend):
    sections = (
        {"database": {"url": request.getfixturevalue("pg_url")}} if backend != "sqlite" else {}
    )
    engine = make_engine(**sections)
    for column in ("created_by", "expires_at"):
        engine.db.execute_sql(f'ALTER TABLE "opt_out" DROP COLUMN "{column}"')
    engine.db.execute_sql("DELETE FROM schema_migrations WHERE version = 20")
    assert engine.migrate() == ["0020_blocklist_expiry"]
    assert {"created_by", "expires_at"} <= {c.name for c in engine.db.get_columns("opt_out")}
    OptOut.create(buyer_key="b", kind="blocklist")
    assert OptOut.get().expires_at is None
    assert engine.migrate() == []
