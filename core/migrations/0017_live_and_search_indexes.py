"""Indexes for the live-order re-plan and the orders page at scale; the product catalogue.

``core.live`` finds the orders a re-plan must look at by date ranges on the order and
its shipped/delivered events; the orders page filters by account and by status newest
first and searches order ids by prefix and titles in ``product``. Without these they
would read every order ever imported. Names follow peewee's, so a fresh install (0001
creates them from ``core.models``) and an upgraded one end with the same schema.
"""

from core.models import Product

INDEXES = (
    ("order_latest_delivery", "order", ("latest_delivery",)),
    ("order_shipped_at", "order", ("shipped_at",)),
    ("order_account_id_purchased_at", "order", ("account_id", "purchased_at")),
    ("order_status_purchased_at", "order", ("status", "purchased_at")),
    ("order_event_kind_occurred_at", "order_event", ("kind", "occurred_at")),
)


def up(db):
    # IF NOT EXISTS: safe to run twice, and the same SQL on SQLite and PostgreSQL.
    for name, table, columns in INDEXES:
        cols = ", ".join(f'"{c}"' for c in columns)
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({cols})')
    if db.param == "%s":
        # PostgreSQL compares text by its collation, which ignores the dashes of an order
        # id: a prefix search (LIKE 'x%') needs the pattern operator class to use an index.
        db.execute_sql(
            'CREATE INDEX IF NOT EXISTS "order_order_id_pattern" '
            'ON "order" ("order_id" varchar_pattern_ops)'
        )
    db.create_tables([Product], safe=True)
    db.execute_sql(
        'INSERT INTO "product" ("sku", "asin", "title") '
        'SELECT DISTINCT "sku", "asin", "title" FROM "order_item" WHERE true '
        'ON CONFLICT ("sku", "asin", "title") DO NOTHING'
    )
