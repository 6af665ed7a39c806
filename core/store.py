"""Storing orders from any source: set-based upserts of orders, items and events.

Sources report whole orders repeatedly (sync overlap windows, re-imports). ``store_orders``
makes that harmless and fast at any volume: orders stream in, are validated one by one
(a bad order is reported and skipped, the rest stored), and are written a batch at a time
(``BATCH`` orders: one read of the rows already stored, one ``INSERT ... ON CONFLICT``
for the new and changed orders, one for their items, one for their events). An event
kind already recorded for an order is never recorded again: the database's
UNIQUE(order, kind) is the guard (``ON CONFLICT DO NOTHING``), not a per-row read.

Nothing here holds more than one batch: with ``on_changed`` the ids of the orders that
changed go to the caller (planning) batch by batch instead of piling up in the result.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from .clock import to_naive_utc, utcnow
from .contracts import EVENT_KINDS, OrderData
from .db import database, is_sqlite, write_transaction
from .models import Order, OrderEvent, OrderItem, Product, SellerAccount

log = logging.getLogger(__name__)

# Orders per write: large enough that statement overhead vanishes, small enough that a
# batch (and its items and events) stays a few MB whatever the file's size.
BATCH = 2000
# A file with a million bad rows must not keep a million messages: the count is exact,
# the first ones are kept to show.
MAX_ERRORS = 100

# The order columns a source reports, in the order ``_values`` builds them. An update
# rewrites exactly these; the seller's own flags (stop messages, negative feedback) and
# ``is_demo``/``created_at`` are written once, when the order is created.
FIELDS = (
    "marketplace",
    "fulfillment",
    "status",
    "purchased_at",
    "last_updated_at",
    "shipped_at",
    "earliest_delivery",
    "latest_delivery",
    "delivery_confirmed",
    "total",
    "currency",
    "buyer_key",
    "buyer_email",
    "buyer_locale",
    "ship_country",
    "is_business",
    "is_prime",
    "shipped_late",
    "item_count",
)


class OrderDataError(ValueError):
    """An order a source reported that cannot be stored; names the order and the field."""


@dataclass
class StoreResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    new_events: int = 0
    changed_ids: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # the first MAX_ERRORS
    rejected: int = 0  # every order refused, also past MAX_ERRORS

    def reject(self, text: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(text)

    def merge(self, part: StoreResult) -> None:
        self.created += part.created
        self.updated += part.updated
        self.unchanged += part.unchanged
        self.new_events += part.new_events
        self.changed_ids.extend(part.changed_ids)
        for text in part.errors:
            if len(self.errors) < MAX_ERRORS:
                self.errors.append(text)
        self.rejected += part.rejected


def _validate(data: OrderData, known_marketplaces) -> None:
    where = f"order {data.order_id or '(no id)'}"
    if not data.order_id:
        raise OrderDataError(f"{where}: missing order id")
    if len(data.order_id) > Order.order_id.max_length:
        raise OrderDataError(
            f"{where}: order id longer than {Order.order_id.max_length} characters"
        )
    if known_marketplaces is not None and data.marketplace not in known_marketplaces:
        raise OrderDataError(f"{where}: unknown marketplace {data.marketplace!r}")
    if data.fulfillment not in ("FBA", "FBM"):
        raise OrderDataError(f"{where}: fulfilment {data.fulfillment!r} is not FBA or FBM")
    if data.purchased_at is None:
        raise OrderDataError(f"{where}: missing purchase date")
    for kind in data.events:
        if kind not in EVENT_KINDS:
            raise OrderDataError(f"{where}: unknown event kind {kind!r}")


LOCALE = FIELDS.index("buyer_locale")


def _sqlite_time(value: datetime | None) -> str | None:
    """A datetime as SQLite holds it (the text sqlite3's adapter writes for peewee)."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.isoformat(" ")
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return value.isoformat(" ")[:-6]  # without its "+00:00"


class _SqliteTimes(dict):
    """datetime -> its SQLite text, each distinct time converted once per batch (an
    order's events reuse its purchase and update times)."""

    def __missing__(self, value):
        text = self[value] = _sqlite_time(value)
        return text


def _values(data: OrderData, when) -> tuple:
    """The ``FIELDS`` of ``data`` as the database holds them (naive UTC; on SQLite as
    text), so a stored row compares equal exactly when nothing changed."""
    return (
        data.marketplace,
        data.fulfillment,
        data.status,
        when(data.purchased_at),
        when(data.last_updated_at or data.purchased_at),
        when(data.shipped_at),
        when(data.earliest_delivery),
        when(data.latest_delivery),
        bool(data.delivery_confirmed),
        float(data.total),
        data.currency,
        data.buyer_key,
        data.buyer_email,
        data.buyer_locale,
        data.ship_country,
        bool(data.is_business),
        bool(data.is_prime),
        bool(data.shipped_late),
        sum(i.quantity for i in data.items),
    )


def _q(name: str) -> str:
    return f'"{name}"'


def _column(model, name: str) -> str:
    return _q(model._meta.fields[name].column_name)


def _insert_rows(table: str, columns: list[str], rows: list[tuple], suffix: str = "") -> None:
    """Many rows in one go: ``executemany`` on SQLite (one prepared statement), multi-row
    ``VALUES`` pages on PostgreSQL (psycopg2's executemany is one round trip per row)."""
    if not rows:
        return
    # Table and column names come from the models; every value is a bound parameter.
    head = f"INSERT INTO {_q(table)} ({', '.join(columns)}) VALUES "  # nosec B608
    cursor = database.cursor()
    if is_sqlite():
        cursor.executemany(head + f"({', '.join('?' * len(columns))}) {suffix}", rows)
    else:
        # here, not at the top: start-up cost of psycopg2.extras (PostgreSQL installs only)
        from psycopg2.extras import execute_values

        execute_values(cursor, head + "%s " + suffix, rows, page_size=1000)


def _order_sql():
    order_cols = [_column(Order, n) for n in ("account", "order_id", *FIELDS)]
    order_cols += [_column(Order, n) for n in ("negative_feedback", "messages_stopped")]
    order_cols += [_column(Order, n) for n in ("is_demo", "created_at")]
    updates = ", ".join(f"{c} = excluded.{c}" for c in (_column(Order, n) for n in FIELDS))
    conflict = f"ON CONFLICT ({_column(Order, 'account')}, {_column(Order, 'order_id')}) "
    return order_cols, conflict + f"DO UPDATE SET {updates}"  # column names from the models  # nosec B608


def _select_in(sql: str, head: tuple, keys: list) -> list[tuple]:
    """Rows of ``sql`` (its last condition ``IN ({marks})``) for ``head`` + ``keys``.

    Plain SQL: building a 2,000-value ``IN`` through the query builder costs more than
    running it."""
    if not keys:
        return []
    mark = "?" if is_sqlite() else "%s"
    text = sql.format(mark=mark, marks=", ".join([mark] * len(keys)))
    return list(database.execute_sql(text, (*head, *keys)).fetchall())


def _read_stored(account_id: int, order_ids: list[str]) -> dict[str, tuple[int, tuple]]:
    """{order id: (pk, FIELDS as the database holds them)} for the orders of this batch
    already stored."""
    columns = ", ".join(_column(Order, n) for n in FIELDS)
    sql = (
        f'SELECT "id", "order_id", {columns} FROM "order" '  # names from the models; ids bound  # nosec B608
        'WHERE "account_id" = {mark} AND "order_id" IN ({marks})'
    )
    return {row[1]: (row[0], tuple(row[2:])) for row in _select_in(sql, (account_id,), order_ids)}


def _ids(account_id: int, order_ids: list[str]) -> dict[str, int]:
    sql = 'SELECT "order_id", "id" FROM "order" WHERE "account_id" = {mark} '
    sql += 'AND "order_id" IN ({marks})'
    return dict(_select_in(sql, (account_id,), order_ids))


def _stored_kinds(pks: list[int]) -> set[tuple[int, str]]:
    sql = (
        'SELECT "order_id", "kind" FROM "order_event" WHERE 1 = {mark} AND "order_id" IN ({marks})'
    )
    return set(_select_in(sql, (1,), pks))


def _store_batch(account: SellerAccount, batch: list[OrderData], source: str) -> StoreResult:
    """Write one batch (order ids unique within it) in one transaction."""
    result = StoreResult()
    when = _SqliteTimes().__getitem__ if is_sqlite() else to_naive_utc
    now = when(utcnow())
    values = {d.order_id: _values(d, when) for d in batch}
    with write_transaction():
        stored = _read_stored(account.id, list(values))
        write = []  # new or changed orders
        for data in batch:
            old = stored.get(data.order_id)
            if old is not None and not data.buyer_locale:
                # Order lists carry no buyer locale (Amazon gives it per order, through
                # getAttributes at send time): a re-sync keeps the stored one and does
                # not count as a change.
                row = list(values[data.order_id])
                row[LOCALE] = old[1][LOCALE]
                values[data.order_id] = tuple(row)
            if old is None or old[1] != values[data.order_id]:
                write.append(data)
        order_cols, upsert = _order_sql()
        _insert_rows(
            Order._meta.table_name,
            order_cols,
            [
                (account.id, d.order_id, *values[d.order_id], False, False, account.is_demo, now)
                for d in write
            ],
            upsert,
        )
        new_ids = [d.order_id for d in write if d.order_id not in stored]
        pks = {oid: old[0] for oid, old in stored.items()}
        pks.update(_ids(account.id, new_ids) if new_ids else {})
        # Items are replaced whenever the order is (re)written and the source sent them.
        replaced = [pks[d.order_id] for d in write if d.items and d.order_id in stored]
        if replaced:
            OrderItem.delete().where(OrderItem.order.in_(replaced)).execute()
        item_cols = [_column(OrderItem, n) for n in ("order", "sku", "asin", "title")]
        item_cols += [_column(OrderItem, n) for n in ("quantity", "price")]
        _insert_rows(
            OrderItem._meta.table_name,
            item_cols,
            [
                (pks[d.order_id], i.sku, i.asin, i.title, i.quantity, i.price)
                for d in write
                for i in d.items
            ],
        )
        # The product catalogue the orders page searches titles in: each distinct item
        # once (the unique index ignores the ones already known).
        products = {(i.sku, i.asin, i.title) for d in write for i in d.items}
        _insert_rows(
            Product._meta.table_name,
            [_column(Product, n) for n in ("sku", "asin", "title")],
            sorted(products),
            'ON CONFLICT ("sku", "asin", "title") DO NOTHING',
        )
        # Each kind once per order: the unique index refuses a repeat. The kinds already
        # stored are read for the batch only to say which orders gained an event.
        had = _stored_kinds([old[0] for old in stored.values()])
        events, gained = [], set()
        for data in batch:
            pk = pks[data.order_id]
            for kind, at in data.events.items():
                if at is not None and (pk, kind) not in had:
                    events.append((pk, kind, when(at), now, source))
                    gained.add(pk)
        event_cols = [_column(OrderEvent, n) for n in ("order", "kind", "occurred_at")]
        event_cols += [_column(OrderEvent, n) for n in ("recorded_at", "source")]
        conflict = f"ON CONFLICT ({_column(OrderEvent, 'order')}, {_column(OrderEvent, 'kind')})"
        _insert_rows(OrderEvent._meta.table_name, event_cols, events, conflict + " DO NOTHING")
    result.new_events = len(events)
    rewritten = {d.order_id for d in write}
    for data in batch:
        pk = pks[data.order_id]
        changed = data.order_id in rewritten or pk in gained
        if data.order_id not in stored:
            result.created += 1
        elif changed:
            result.updated += 1
        else:
            result.unchanged += 1
        if changed:
            result.changed_ids.append(pk)
    return result


def store_orders(
    account: SellerAccount,
    batch: Iterable[OrderData],
    source: str,
    known=None,
    *,
    on_changed: Callable[[list[int]], None] | None = None,
    batch_size: int = BATCH,
) -> StoreResult:
    """Store orders as they stream in; a bad order is reported in ``errors`` (and counted
    in ``rejected``) and the rest still stored.

    ``known``: the marketplace codes accepted (``None``: any). ``on_changed(ids)`` is
    called after each committed batch with the ids of its new or changed orders; then
    ``changed_ids`` stays empty, so memory does not grow with the number of orders.
    """
    result = StoreResult()
    pending: dict[str, OrderData] = {}

    def flush() -> None:
        if not pending:
            return
        part = _store_batch(account, list(pending.values()), source)
        pending.clear()
        ids, part.changed_ids = part.changed_ids, []
        result.merge(part)
        if on_changed is None:
            result.changed_ids.extend(ids)
        elif ids:
            on_changed(ids)

    source_rows = iter(batch)
    while True:
        try:
            data = next(source_rows)
        except StopIteration:
            break
        except Exception:
            # The source failed mid-stream (a bad line in a file): what it read before is
            # good and is stored, so the error can say "everything before it was stored".
            flush()
            raise
        try:
            _validate(data, known)
        except OrderDataError as exc:
            log.warning("skipped order from %s: %s", source, exc)
            result.reject(str(exc))
            continue
        if data.order_id in pending:
            # The same order twice in a batch (a sync's overlapping pages): the second
            # report is compared with the first, as if they had come one after another.
            flush()
        pending[data.order_id] = data
        if len(pending) >= batch_size:
            flush()
    flush()
    return result


def store_one(
    account: SellerAccount, data: OrderData, source: str, known=None
) -> tuple[Order, bool, int]:
    """Upsert one order. Returns (order, changed, number of new events)."""
    _validate(data, known)
    part = _store_batch(account, [data], source)
    order = Order.get((Order.account == account) & (Order.order_id == data.order_id))
    return order, bool(part.changed_ids), part.new_events
