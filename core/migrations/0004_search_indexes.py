"""Indexes for the admin's searches: order id lookups and the outbox by state."""


def up(db):
    # IF NOT EXISTS: on a fresh install 0001 already created them from the models.
    db.execute_sql('CREATE INDEX IF NOT EXISTS "order_order_id" ON "order" ("order_id")')
    db.execute_sql('CREATE INDEX IF NOT EXISTS "message_state_id" ON "message" ("state", "id")')
