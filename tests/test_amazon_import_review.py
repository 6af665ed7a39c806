"""Orders imported from Seller Central's All Orders report get their Request a Review.

The report has no delivery dates. An imported order gets an estimated delivery window
as FBA orders do: from the order date plus the marketplace's transit to the order date
plus its longest transit (never earlier than the last update plus transit), or the
delivery itself when the report says "Delivered to Buyer". Amazon's own action list then
decides: asked daily until it offers Request a Review or the window's latest possible
close passes, then the message ends saying Amazon never offered it. End to end through
the fake SP-API over HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from core import clock
from core.clock import utcnow
from core.dispatch import dispatch_due
from core.importer import import_orders
from core.models import Decision, Message, Order, SellerAccount, Step
from tests.fake_spapi.harness import connected, review_step
from tests.fake_spapi.reports import COLUMNS  # the All Orders layout the fake serves

ASKED = "getSolicitationActionsForOrder"
POSTED = "createProductReviewAndSellerFeedbackSolicitation"
NOT_YET = "waiting: Amazon does not offer Request a Review for this order yet (re-checked daily)"

pytestmark = pytest.mark.usefixtures("fresh_limiter")


def row(
    order_id: str,
    placed: datetime,
    updated: datetime,
    *,
    status: str = "Shipped",
    item_status: str = "Shipped",
    channel: str = "Amazon",
) -> dict:
    """One item line of an All Orders report (times naive UTC)."""
    return {
        "amazon-order-id": order_id,
        "purchase-date": placed.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "last-updated-date": updated.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "order-status": status,
        "fulfillment-channel": channel,
        "sales-channel": "Amazon.de",
        "product-name": "Kaffeemühle",
        "sku": "KM-1",
        "asin": "B0KM000001",
        "item-status": item_status,
        "quantity": "1",
        "currency": "EUR",
        "item-price": "49.90",
        "shipping-price": "0",
        "ship-country": "DE",
    }


def import_report(engine, tmp_path, account_name: str, *rows: dict) -> str:
    path = tmp_path / "all-orders.txt"
    lines = ["\t".join(COLUMNS)] + ["\t".join(r.get(c, "") for c in COLUMNS) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return import_orders(engine, path, account_name)


# -- the estimate, at engine level --------------------------------------------------------

PLACED = datetime(2026, 9, 20, 10, 0)


def test_imported_orders_get_an_estimated_delivery_window(make_engine, tmp_path):
    clock.freeze(datetime(2026, 10, 10, 12))
    engine = make_engine()
    SellerAccount.create(name="Shop", source="amazon", marketplaces=["DE"])
    step = review_step()  # Request a Review on delivery, as the FBA preset does
    summary = import_report(
        engine,
        tmp_path,
        "Shop",
        row("302-0000001-0000001", PLACED, PLACED + timedelta(days=2)),
        row(
            "302-0000002-0000002",
            PLACED,
            PLACED + timedelta(days=5),
            channel="Merchant",
            item_status="Shipped - Delivered to Buyer",
        ),
        row("302-0000003-0000003", PLACED, PLACED, status="Pending", item_status="Unshipped"),
    )
    assert "3 new" in summary
    fba, delivered, pending = (
        Order.get(Order.order_id == f"302-000000{n}-000000{n}") for n in (1, 2, 3)
    )
    # DE: 2 days' transit, 10 days at the longest from the order date.
    assert (fba.earliest_delivery, fba.latest_delivery, fba.delivery_confirmed) == (
        PLACED + timedelta(days=2),
        PLACED + timedelta(days=10),
        False,
    )
    window = engine.review_window(fba)
    assert (window.opens, window.closes) == (
        PLACED + timedelta(days=7),
        PLACED + timedelta(days=40),
    )
    assert delivered.delivery_confirmed
    assert delivered.earliest_delivery == delivered.latest_delivery == PLACED + timedelta(days=5)
    assert pending.earliest_delivery is None and pending.latest_delivery is None
    assert set(pending.event_times()) == {"ordered"}  # "Unshipped" has not shipped

    decisions = {d.order.order_id: d for d in Decision.select().where(Decision.step == step)}
    assert decisions["302-0000001-0000001"].outcome == "planned"
    assert decisions["302-0000002-0000002"].outcome == "planned"
    assert decisions["302-0000003-0000003"].outcome == "waiting"
    assert Message.get(Message.order == fba).due_at == PLACED + timedelta(days=10)
    # Importing the same file again changes nothing.
    again = import_report(
        engine, tmp_path, "Shop", row("302-0000001-0000001", PLACED, PLACED + timedelta(days=2))
    )
    assert "1 unchanged" in again


def test_a_late_last_update_moves_the_latest_possible_delivery(make_engine, tmp_path):
    """Shipped late (the report's last update is long after the order): the window is
    never earlier than that update plus the transit."""
    clock.freeze(datetime(2026, 10, 10, 12))
    engine = make_engine()
    SellerAccount.create(name="Shop", source="amazon", marketplaces=["DE"])
    import_report(
        engine, tmp_path, "Shop", row("302-0000004-0000004", PLACED, PLACED + timedelta(days=12))
    )
    order = Order.get()
    assert order.latest_delivery == PLACED + timedelta(days=14)


# -- end to end through the fake SP-API -----------------------------------------------------


@pytest.fixture
def amazon(make_engine, fake):
    engine, account = connected(make_engine, fake)
    review_step()
    return engine, account


def offer_from_now_on(fake, order_id: str) -> None:
    """Amazon learned the delivery (a week ago): it offers Request a Review now."""
    week_ago = datetime.now(UTC) - timedelta(days=7)
    with fake.lock:
        fake.orders[order_id].update(earliest=week_ago, latest=week_ago)


def test_an_imported_order_gets_request_a_review_once_amazon_offers_it(amazon, fake, tmp_path):
    engine, account = amazon
    start = utcnow().replace(microsecond=0)
    placed = start - timedelta(days=14)
    oid = "302-1234567-7654321"
    fake.add_order(oid, fulfilled_by="AMAZON", delivered_days_ago=None)  # no delivery yet
    clock.freeze(start)
    import_report(engine, tmp_path, account.name, row(oid, placed, placed + timedelta(days=2)))
    message = Message.get()
    assert message.state == "scheduled" and message.due_at == placed + timedelta(days=10)

    dispatch_due(engine)
    message = Message.get()
    assert (message.state, message.reason) == ("scheduled", NOT_YET)
    assert message.due_at == start + timedelta(days=1)
    assert fake.count(ASKED) == 1 and fake.count(POSTED) == 0

    offer_from_now_on(fake, oid)
    clock.freeze(start + timedelta(days=1, minutes=1))
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "sent", message.reason
    assert fake.solicited[oid] == 1 and fake.count(ASKED) == 2


def test_amazon_never_offers_it_ends_at_the_latest_possible_close(amazon, fake, tmp_path):
    engine, account = amazon
    start = utcnow().replace(microsecond=0)
    placed = start - timedelta(days=14)
    oid = "302-7654321-1234567"
    fake.add_order(oid, fulfilled_by="AMAZON", delivered_days_ago=None)  # never offered
    clock.freeze(start)
    import_report(engine, tmp_path, account.name, row(oid, placed, placed + timedelta(days=2)))
    dispatch_due(engine)
    assert Message.get().reason == NOT_YET

    # The latest possible close: the order date + DE's longest transit (10) + 30 days.
    close = engine.review_window(Order.get()).closes
    assert close == placed + timedelta(days=40)
    clock.freeze(close - timedelta(hours=20))
    dispatch_due(engine)
    message = Message.get()
    assert (message.state, message.reason) == ("scheduled", NOT_YET)
    # A daily re-check would come after the close: the last one is just before it.
    assert message.due_at == close - timedelta(hours=1)

    clock.freeze(message.due_at)
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "skipped"
    assert message.reason == (
        "skipped: Amazon never offered Request a Review for this order (asked daily until "
        f"the window's latest possible close on {close:%Y-%m-%d})"
    )
    assert fake.count(ASKED) == 3 and fake.count(POSTED) == 0

    # Nothing is asked again, and nothing is left waiting.
    clock.freeze(close + timedelta(days=2))
    dispatch_due(engine)
    assert fake.count(ASKED) == 3
    assert not Message.select().where(Message.state == "scheduled").exists()


def test_a_message_still_waiting_after_the_close_ends_for_good(amazon, fake, tmp_path):
    """The worker was down over the close: the message ends at once with the reason,
    and a re-plan says the same. Nothing loops."""
    from core.planning import plan_orders

    engine, account = amazon
    start = utcnow().replace(microsecond=0)
    placed = start - timedelta(days=14)
    oid = "302-1111111-2222222"
    fake.add_order(oid, fulfilled_by="AMAZON", delivered_days_ago=None)
    clock.freeze(start)
    import_report(engine, tmp_path, account.name, row(oid, placed, placed + timedelta(days=2)))
    clock.freeze(placed + timedelta(days=41))
    dispatch_due(engine)
    message = Message.get()
    reason = (
        "excluded: more than 30 days after order completion "
        f"({placed + timedelta(days=10):%Y-%m-%d}, latest estimated delivery)"
    )
    assert (message.state, message.reason) == ("skipped", reason)
    assert fake.count(POSTED) == 0
    step = Step.get()
    Message.delete().execute()
    plan_orders(engine, [Order.get().id])
    decision = Decision.get(Decision.step == step)
    assert (decision.outcome, decision.reason) == ("excluded", reason)
