"""The orders page filtered by marketplace, newest first, without scanning other markets."""


def up(db):
    db.execute_sql(
        'CREATE INDEX IF NOT EXISTS "order_marketplace_purchased_at" '
        'ON "order" ("marketplace", "purchased_at")'
    )
