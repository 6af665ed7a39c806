"""The set-based store: batches behave exactly like orders stored one by one, on SQLite
and PostgreSQL; imports stream (a bad line keeps what came before it, stored)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from core.importer import OrderImportError, import_orders
from core.models import Order, OrderEvent, OrderItem, SellerAccount
from core.store import store_orders
from tests.conftest import order_data

HEADER = (
    "amazon-order-id\tpurchase-date\tlast-updated-date\torder-status\tfulfillment-channel\t"
    "sales-channel\tproduct-name\tsku\tasin\titem-status\tquantity\tcurrency\titem-price\n"
)


def line(oid, status="Shipped", item="Shipped - Delivered to Buyer", channel="Amazon.com"):
    return (
        f"{oid}\t2026-11-01T10:00:00+00:00\t2026-11-04T08:00:00+00:00\t{status}\tAmazon\t"
        f"{channel}\tMug\tMUG-1\tB0MUG00001\t{item}\t1\tUSD\t12.50\n"
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_engine(request, make_engine):
    if request.param == "sqlite":
        return make_engine()
    return make_engine(database={"url": request.getfixturevalue("pg_url")})


def test_batches_count_created_updated_unchanged_like_single_stores(db_engine):
    account = SellerAccount.create(name="A", source="demo")
    orders = [order_data("US") for _ in range(7)]
    seen = []
    first = store_orders(account, orders, "t", on_changed=seen.append, batch_size=3)
    assert (first.created, first.updated, first.unchanged) == (7, 0, 0)
    assert [len(ids) for ids in seen] == [3, 3, 1]  # planning gets each batch as stored
    assert first.changed_ids == []  # nothing piles up when a callback takes the ids
    assert OrderEvent.select().count() == 21 and OrderItem.select().count() == 7

    again = store_orders(account, orders, "t", batch_size=3)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 7)
    assert again.changed_ids == [] and again.new_events == 0

    # One order changes status, another gains an event: only those two are "updated".
    returned_at = orders[4].purchased_at + timedelta(days=20)
    changed = list(orders)
    changed[1] = replace(orders[1], status="Cancelled")
    changed[4] = replace(orders[4], events={**orders[4].events, "returned": returned_at})
    third = store_orders(account, changed, "t", batch_size=3)
    assert (third.created, third.updated, third.unchanged) == (0, 2, 5)
    ids = dict(Order.select(Order.order_id, Order.id).tuples())
    assert sorted(third.changed_ids) == sorted([ids[orders[1].order_id], ids[orders[4].order_id]])
    assert third.new_events == 1
    assert Order.get(Order.order_id == orders[1].order_id).status == "Cancelled"
    # Each event kind once per order, whatever the source repeats.
    assert OrderEvent.select().count() == 22


def test_same_order_twice_in_one_batch_is_compared_with_itself(db_engine):
    account = SellerAccount.create(name="A", source="demo")
    data = order_data("US")
    later = replace(data, status="Cancelled", items=())
    result = store_orders(account, [data, later], "t")
    assert (result.created, result.updated) == (1, 1)
    assert Order.select().count() == 1
    order = Order.get()
    assert order.status == "Cancelled"
    assert OrderItem.select().where(OrderItem.order == order).count() == 1  # kept: none sent


def test_items_replaced_when_the_order_changes(db_engine):
    account = SellerAccount.create(name="A", source="demo")
    data = order_data("US", sku="OLD-1")
    store_orders(account, [data], "t")
    new_items = (replace(data.items[0], sku="NEW-1", quantity=2),)
    store_orders(account, [replace(data, items=new_items, status="Delivered")], "t")
    assert [(i.sku, i.quantity) for i in OrderItem.select()] == [("NEW-1", 2)]
    assert Order.get().item_count == 2


def test_bad_orders_counted_past_the_kept_messages(engine):
    account = SellerAccount.create(name="A", source="demo")
    bad = [replace(order_data("US"), fulfillment="AFN") for _ in range(150)]
    result = store_orders(account, [*bad, order_data("US")], "t")
    assert result.rejected == 150 and len(result.errors) == 100
    assert result.created == 1


def test_import_stores_the_orders_before_a_bad_line_and_says_so(engine, tmp_path):
    good = [f"111-0000000-{n:07d}" for n in range(5)]
    path = tmp_path / "orders.txt"
    path.write_text(
        HEADER + "".join(line(o) for o in good) + line("111-9-9", channel="Amazon.moon")
    )
    with pytest.raises(OrderImportError) as failed:
        import_orders(engine, path, "Shop")
    assert "line 7: unknown sales-channel 'Amazon.moon'" in str(failed.value)
    assert "the 5 orders before it were stored" in str(failed.value)
    assert failed.value.stored == 5
    assert sorted(o.order_id for o in Order.select()) == good
    # Importing the corrected file again adds the missing order, duplicates nothing.
    path.write_text(HEADER + "".join(line(o) for o in good) + line("111-9-9"))
    text = import_orders(engine, path, "Shop")
    assert "1 new, 0 updated, 5 unchanged" in text
    assert Order.select().count() == 6


def test_import_reads_a_gzipped_report(engine, tmp_path):
    import gzip

    path = tmp_path / "orders.txt.gz"
    path.write_bytes(gzip.compress((HEADER + line("111-0000000-0000001")).encode()))
    assert "1 new" in import_orders(engine, path, "Shop")
    assert Order.get().marketplace == "US"
