"""The Orders pages through Flask's test client: SKU/ASIN, status and date filters, and
the order page's actions (stop messages, block the buyer, send a step now) with roles,
CSRF, flash feedback and audit."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from core.clock import utcnow
from core.dispatch import dispatch_due
from core.models import AuditLog, Message, OptOut, Order
from core.planning import plan_orders
from tests.support.outbox import add_message, campaign_step, flashes, stored_order, user_client
from tests.support.web import csrf_token

DAY = timedelta(days=1)
ORDER_ID = re.compile(r">(\d{3}-\d{7}-\d{7})<")


def listed(client, query: str) -> set[str]:
    response = client.get(f"/orders/?{query}")
    assert response.status_code == 200
    return set(ORDER_ID.findall(response.get_data(as_text=True)))


def test_sku_status_and_date_filters(signed_in, account):
    kettle = stored_order(account, "US", sku="KETTLE-1", days_ago=3)
    lamp = stored_order(account, "DE", sku="LAMP-2", days_ago=20)
    pending = stored_order(account, "US", sku="LAMP-2", days_ago=1, delivered_days_ago=None)
    assert listed(signed_in, "sku=LAMP-2") == {lamp.order_id, pending.order_id}
    assert listed(signed_in, "sku=B0TEST0001") == {kettle.order_id, lamp.order_id, pending.order_id}
    assert listed(signed_in, "sku=LAMP-2&status=Unshipped") == {pending.order_id}
    today = utcnow().date()
    week = listed(signed_in, f"from={today - timedelta(days=7)}&to={today}")
    assert week == {kettle.order_id, pending.order_id}
    assert listed(signed_in, f"to={today - timedelta(days=10)}") == {lamp.order_id}
    assert listed(signed_in, f"q={kettle.order_id}") == {kettle.order_id}  # search kept
    bad = signed_in.get("/orders/?from=last-week").get_data(as_text=True)
    assert "use a date like" in bad


def test_stop_messages_needs_a_reason_then_cancels_and_audits(signed_in, account):
    step = campaign_step()
    order = stored_order(account, "US", delivered_days_ago=2)
    scheduled = add_message(order, step, "scheduled", due_at=utcnow() + timedelta(days=3))
    token = csrf_token(signed_in, f"/orders/{order.id}")
    empty = signed_in.post(f"/orders/{order.id}/stop", data={"csrf_token": token, "reason": " "})
    assert empty.status_code == 422 and b"Say why" in empty.data
    assert Message.get_by_id(scheduled.id).state == "scheduled"
    response = signed_in.post(
        f"/orders/{order.id}/stop", data={"csrf_token": token, "reason": "buyer asked us to stop"}
    )
    page = signed_in.get(response.location).get_data(as_text=True)
    assert any("1 pending message(s) cancelled" in f for f in flashes(page))
    assert "stopped by the seller" in page
    message = Message.get_by_id(scheduled.id)
    assert message.state == "cancelled" and "buyer asked us to stop" in message.reason
    assert Order.get_by_id(order.id).messages_stopped
    entry = AuditLog.get(AuditLog.action == "order_stopped")
    assert entry.user == "admin" and entry.target == order.order_id


def test_blocklisted_buyer_gets_nothing_more(signed_in, engine, account):
    step = campaign_step(delay_days=0)
    order = stored_order(account, "US", delivered_days_ago=8)
    token = csrf_token(signed_in, f"/orders/{order.id}")
    response = signed_in.post(
        f"/orders/{order.id}/block", data={"csrf_token": token, "reason": "abusive"}
    )
    assert any("on the blocklist" in f for f in flashes(signed_in.get(response.location).text))
    assert OptOut.get(OptOut.buyer_key == order.buyer_key).kind == "blocklist"
    assert AuditLog.get(AuditLog.action == "buyer_blocklist").user == "admin"
    again = signed_in.post(f"/orders/{order.id}/block", data={"csrf_token": token})
    assert any("already on the blocklist" in f for f in flashes(signed_in.get(again.location).text))
    plan_orders(engine, [order.id])
    dispatch_due(engine)
    assert not Message.select().where(Message.state == "sent").exists()
    page = signed_in.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "buyer is on the seller&#39;s blocklist" in page
    assert step.id  # the step existed and was considered


def test_send_now_sends_when_allowed_and_only_once(signed_in, account):
    step = campaign_step(delay_days=20)  # planned far in the future
    order = stored_order(account, "US", delivered_days_ago=8)
    token = csrf_token(signed_in, f"/orders/{order.id}")
    page = signed_in.get(f"/orders/{order.id}").get_data(as_text=True)
    assert f'<option value="{step.id}">' in page
    response = signed_in.post(
        f"/orders/{order.id}/send-now", data={"csrf_token": token, "step": step.id}
    )
    page = signed_in.get(response.location).get_data(as_text=True)
    assert any(f.startswith("Sent now: Review / Review step") for f in flashes(page))
    message = Message.get((Message.order == order.id) & (Message.step == step.id))
    assert message.state == "sent" and message.dry_run and message.attempts == 1
    assert AuditLog.get(AuditLog.action == "step_sent_now").target == order.order_id
    twice = signed_in.post(
        f"/orders/{order.id}/send-now", data={"csrf_token": token, "step": step.id}
    )
    said = flashes(signed_in.get(twice.location).text)
    assert any("a step is sent at most once per order" in f for f in said)
    assert Message.select().where(Message.order == order.id).count() == 1


def test_send_now_says_why_not(signed_in, account):
    review = campaign_step(delay_days=0)
    early = stored_order(account, "US", delivered_days_ago=1)  # review window not open yet
    token = csrf_token(signed_in, f"/orders/{early.id}")
    response = signed_in.post(
        f"/orders/{early.id}/send-now", data={"csrf_token": token, "step": review.id}
    )
    said = flashes(signed_in.get(response.location).text)
    assert any("Not sent" in f and "review-request window opens" in f for f in said)
    assert not Message.select().where(Message.order == early.id).exists()
    refunded = stored_order(
        account,
        "US",
        delivered_days_ago=8,
        events={"refunded": datetime.now(UTC) - timedelta(days=1)},
    )
    response = signed_in.post(
        f"/orders/{refunded.id}/send-now", data={"csrf_token": token, "step": review.id}
    )
    assert any("refunded" in f for f in flashes(signed_in.get(response.location).text))
    missing = signed_in.post(f"/orders/{early.id}/send-now", data={"csrf_token": token})
    assert missing.status_code == 422 and b"Choose the campaign step" in missing.data


def test_viewer_cannot_act_and_csrf_less_posts_are_refused(app, signed_in, account):
    order = stored_order(account, "US", delivered_days_ago=8)
    viewer = user_client(app, "viewer")
    page = viewer.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Stop messages for this order" not in page
    token = csrf_token(viewer, f"/orders/{order.id}")
    for action in ("stop", "block", "send-now"):
        response = viewer.post(
            f"/orders/{order.id}/{action}", data={"csrf_token": token, "reason": "x"}
        )
        assert response.status_code == 403
        bare = signed_in.post(f"/orders/{order.id}/{action}", data={"reason": "x"})
        assert bare.status_code == 400
    assert not Order.get_by_id(order.id).messages_stopped
    assert not OptOut.select().exists()
    assert not AuditLog.select().where(AuditLog.action.startswith("order_")).exists()


def test_send_now_brings_a_planned_message_forward(signed_in, engine, account):
    step = campaign_step(delay_days=20)
    order = stored_order(account, "US", delivered_days_ago=8)
    plan_orders(engine, [order.id])
    planned = Message.get(Message.order == order.id)
    assert planned.state == "scheduled" and planned.due_at > utcnow() + timedelta(days=5)
    token = csrf_token(signed_in, f"/orders/{order.id}")
    page = signed_in.get(f"/orders/{order.id}").get_data(as_text=True)
    assert "Review / Review step (scheduled)" in page
    response = signed_in.post(
        f"/orders/{order.id}/send-now", data={"csrf_token": token, "step": step.id}
    )
    assert any(f.startswith("Sent now") for f in flashes(signed_in.get(response.location).text))
    sent = Message.get_by_id(planned.id)  # the same row: never a second message
    assert sent.state == "sent" and sent.sent_at is not None
    assert Message.select().where(Message.order == order.id).count() == 1


def test_common_product_filter_walks_orders_with_the_same_result(signed_in, account, monkeypatch):
    from web import orders as orders_view

    made = [stored_order(account, "US", sku="MUG-3", days_ago=2 + n) for n in range(4)]
    stored_order(account, "US", sku="OTHER", days_ago=1)
    rare = listed(signed_in, "sku=MUG-3&marketplace=US")
    monkeypatch.setattr(orders_view, "COMMON_PRODUCT", 2)  # MUG-3 now counts as common
    common = listed(signed_in, "sku=MUG-3&marketplace=US")
    assert rare == common == {o.order_id for o in made}


def test_search_by_order_id_prefix_asin_and_title_words(signed_in, account):
    from core.contracts import ItemData

    grinder = stored_order(
        account, "DE", items=(ItemData("KM-1", "B0KM000001", "Kaffeemühle Deluxe", 1, 49.9),)
    )
    kettle = stored_order(
        account, "US", items=(ItemData("KT-1", "B0KT000001", "Electric kettle 1.7 l", 1, 30),)
    )
    assert listed(signed_in, "q=kaffeemühle") == {grinder.order_id}  # a word of the title
    assert listed(signed_in, "q=KETTLE") == {kettle.order_id}  # any case
    assert listed(signed_in, "q=B0KT000001") == {kettle.order_id}  # an ASIN
    assert listed(signed_in, "q=KM-1") == {grinder.order_id}  # a SKU
    # The first digits of an order id (as a seller reads it off a label).
    prefix = grinder.order_id[: len(grinder.order_id) - 2]
    assert grinder.order_id in listed(signed_in, f"q={prefix}")
    assert kettle.order_id not in listed(signed_in, f"q={prefix}")
    assert listed(signed_in, "q=nothing-like-this") == set()


def test_account_filter_one_canceled_and_only_marketplaces_with_orders(signed_in, account):
    from core.models import SellerAccount

    other = SellerAccount.create(name="Second shop", source="demo")
    mine = stored_order(account, "US")
    theirs = stored_order(other, "DE")
    api = stored_order(account, "US", status="Canceled")
    report = stored_order(account, "US", status="Cancelled")
    assert listed(signed_in, f"account={other.id}") == {theirs.order_id}
    assert mine.order_id in listed(signed_in, f"account={account.id}")
    # Amazon spells it two ways (API and report); the filter offers one and finds both.
    assert listed(signed_in, "status=Canceled") == {api.order_id, report.order_id}
    page = signed_in.get("/orders/").get_data(as_text=True)
    assert ">Canceled</option>" in page and ">Cancelled</option>" not in page
    assert "Second shop</option>" in page
    markets = re.search(r'<select id="marketplace".*?</select>', page, re.S).group(0)
    assert re.findall(r"<option[^>]*>(\w+)</option>", markets) == ["All", "DE", "US"]


def test_from_after_to_says_so_instead_of_an_empty_list(signed_in, account):
    stored_order(account, "US", days_ago=3)
    today = utcnow().date()
    page = signed_in.get(f"/orders/?from={today}&to={today - timedelta(days=5)}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "is after “Placed until”" in text and "Swap the two dates" in text
    assert "No orders match" not in text
