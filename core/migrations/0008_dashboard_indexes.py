"""Indexes for the dashboard's bounded aggregates.

Review-request coverage counts orders whose review window opened in the last 30 days,
that is by ``earliest_delivery`` range: without this index it would scan every order.
"""


def up(db):
    # IF NOT EXISTS: safe to run twice, and the same SQL on SQLite and PostgreSQL.
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "order_earliest_delivery" ON "order" ("earliest_delivery")'
    )
