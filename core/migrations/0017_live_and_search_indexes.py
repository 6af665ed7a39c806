"""Indexes for the live-order re-plan and the orders page at scale.

``core.live`` finds the orders a re-plan must look at by date ranges on the order and
its shipped/delivered events; without these indexes it would read every order ever
imported. Names follow peewee's, so a fresh install (0001 creates them from
``core.models``) and an upgraded one end with the same schema.
"""

INDEXES = (
    ("order_latest_delivery", "order", ("latest_delivery",)),
    ("order_shipped_at", "order", ("shipped_at",)),
    ("order_event_kind_occurred_at", "order_event", ("kind", "occurred_at")),
)


def up(db):
    # IF NOT EXISTS: safe to run twice, and the same SQL on SQLite and PostgreSQL.
    for name, table, columns in INDEXES:
        cols = ", ".join(f'"{c}"' for c in columns)
        db.execute_sql(f'CREATE INDEX IF NOT EXISTS "{name}" ON "{table}" ({cols})')
