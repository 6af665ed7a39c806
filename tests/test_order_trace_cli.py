"""``followup trace ORDER_ID``: the order page's trace as text, from the same read model
(``core.order_trace``), so the command and the page tell the same story."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from core import runtime_settings
from core.cli import build_parser
from core.models import Attempt, Decision, Message
from core.order_trace import trace_order
from core.planning import plan_orders
from tests.support.outbox import add_message, campaign_step, stored_order
from tests.test_cli import REPORT, followup, install  # noqa: F401 - install: a fixture

BERLIN = ZoneInfo("Europe/Berlin")


def page_text(client, order) -> str:
    """The order page as a person reads it: tags dropped, entities decoded, spaces one."""
    page = client.get(f"/orders/{order.id}").get_data(as_text=True)
    text = re.sub(r"<[^>]+>", " ", page.split("<main", 1)[-1])
    return re.sub(r"\s+", " ", html.unescape(text))


def cli_text(capsys, order_id: str) -> tuple[int, str]:
    args = build_parser().parse_args(["trace", order_id])
    code = args.func(args)
    out = capsys.readouterr().out
    return code, re.sub(r"\s+", " ", out)


def busy_order(engine, account):
    """An order with a planned review request, a step its rule excluded, a failed message
    with an error and an attempt, and a skipped one with a stored reason."""
    review = campaign_step(name="Review", delay_days=20)
    campaign_step(
        name="Thanks",
        trigger="shipped",
        delay_days=1,
        message_type="thanks",
        rules=[{"rule": "fulfillment", "params": {"fulfillment": "FBA"}}],
    )
    order = stored_order(account, marketplace="DE")
    plan_orders(engine, [order.id])
    invoice = campaign_step(name="Invoice", trigger="shipped", message_type="invoice")
    failed = add_message(
        order, invoice, "failed", review_request=False, error="SP-API 403: Unauthorized"
    )
    Attempt.create(message=failed, outcome="failed", detail="403 from getMessagingActions")
    late = campaign_step(name="Late", trigger="delivered", message_type="other")
    add_message(order, late, "skipped", review_request=False, reason="skipped: buyer opted out")
    assert Message.select().where(Message.order == order).count() == 3
    assert Decision.select().where(Decision.order == order).count() >= 2
    return order, review


def test_the_command_and_the_page_show_the_same_facts(
    signed_in, engine, account, monkeypatch, capsys
):
    runtime_settings.save(engine, "app.timezone", "Europe/Berlin")
    order, _review = busy_order(engine, account)
    monkeypatch.setattr("core.cli._engine", lambda args, **kw: engine)
    code, cli = cli_text(capsys, order.order_id)
    assert code == 0
    web = page_text(signed_in, order)

    trace = trace_order(engine, order, BERLIN)
    facts = [trace.summary, f"Order {order.order_id}"]
    for e in trace.events:
        when = e.occurred_at.replace(tzinfo=UTC).astimezone(BERLIN)
        facts += [e.kind, f"{when:%Y-%m-%d %H:%M}", e.source]
    for d in trace.decisions:
        facts += [d.step, d.outcome, d.reason, f"decided by {d.decided_by}"]
    for m in trace.messages:
        facts += [m.state_label, f"#{m.id}", f"via {m.sender}"]
        facts += [f"Reason: {m.reason}"] if m.reason else []
        facts += [f"Error: {m.error}"] if m.error else []
        facts += [a.detail for a in m.attempts]
    for i in trace.items:
        facts += [f"{i.quantity} × {i.title}", f"SKU {i.sku}"]
    missing = {
        "cli": [f for f in facts if f not in cli],
        "web": [f for f in facts if f not in web],
    }
    assert missing == {"cli": [], "web": []}
    # The facts that matter most, spelled out: plain reasons, in Berlin time.
    assert "then 20 days" in cli and "+ 20d" not in cli and "(core)" not in cli
    assert "Reason: skipped: buyer opted out" in cli
    assert "Times in Europe/Berlin" in cli
    assert "Scheduled" in cli and "Failed" in cli and "Skipped" in cli
    assert any(d.outcome == "excluded" for d in trace.decisions)


def test_times_are_in_the_sellers_time_zone(engine, account, monkeypatch, capsys):
    order = stored_order(account, days_ago=3, delivered_days_ago=None)
    placed = order.purchased_at
    monkeypatch.setattr("core.cli._engine", lambda args, **kw: engine)
    runtime_settings.save(engine, "app.timezone", "Asia/Tokyo")
    _code, out = cli_text(capsys, order.order_id)
    tokyo = placed.replace(tzinfo=UTC).astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"Placed: {tokyo:%Y-%m-%d %H:%M}" in out
    assert tokyo.utcoffset() == timedelta(hours=9)


def test_the_same_order_id_in_two_accounts_prints_both(engine, account, monkeypatch, capsys):
    from core.models import Order, SellerAccount

    order = stored_order(account)
    other = SellerAccount.create(name="Second shop", source="demo", marketplaces=["US"])
    Order.create(
        account=other,
        order_id=order.order_id,
        marketplace="US",
        fulfillment="FBA",
        status="Shipped",
        purchased_at=datetime(2026, 11, 1),
        last_updated_at=datetime(2026, 11, 1),
    )
    monkeypatch.setattr("core.cli._engine", lambda args, **kw: engine)
    code, out = cli_text(capsys, order.order_id)
    assert code == 0
    assert out.count(f"Order {order.order_id}") == 2
    assert "Account: Test seller" in out and "Account: Second shop" in out


def test_trace_of_an_imported_order_and_of_an_unknown_one(install):  # noqa: F811
    assert followup(install, "init").returncode == 0
    path = install / "orders.txt"
    path.write_text(REPORT)
    assert followup(install, "import-orders", str(path)).returncode == 0
    known = followup(install, "trace", "302-1111111-2222222")
    assert known.returncode == 0, known.stderr
    assert known.stdout.startswith("Order 302-1111111-2222222\n")
    assert "1 × Kaffeemühle" in known.stdout and "delivered" in known.stdout
    unknown = followup(install, "trace", "999-0000000-0000000")
    assert unknown.returncode == 1
    assert unknown.stdout == ""
    assert "no order '999-0000000-0000000' is stored" in unknown.stderr
