"""``order.status`` widened to 64 characters.

Seller Central's All Orders report has statuses such as "Shipped - Delivered to Buyer"
and "Shipped - Returning to Seller" (28-29 characters); SQLite never enforced the old
24, PostgreSQL refused the whole import.
"""

from peewee import SqliteDatabase

from core.models import Order


def up(db):
    if isinstance(db, SqliteDatabase):  # SQLite does not enforce VARCHAR lengths: nothing to change
        return
    table = Order._meta.table_name
    db.execute_sql(f'ALTER TABLE "{table}" ALTER COLUMN status TYPE VARCHAR(64)')
