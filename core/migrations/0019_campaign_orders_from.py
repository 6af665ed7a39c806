"""A campaign's activation cut-off: ``campaign.orders_from`` (core.activation).

Orders placed before it are excluded from the campaign with the reason in their trace;
``NULL`` (every campaign activated before this column existed) means no cut-off.
"""

from peewee import DateTimeField
from playhouse.migrate import SchemaMigrator, migrate

from core.models import Campaign


def up(db):
    table = Campaign._meta.table_name
    # 0001 creates tables from the current models, so a fresh install has the column.
    if "orders_from" not in {c.name for c in db.get_columns(table)}:
        migrator = SchemaMigrator.from_database(db)
        migrate(migrator.add_column(table, "orders_from", DateTimeField(null=True)))
