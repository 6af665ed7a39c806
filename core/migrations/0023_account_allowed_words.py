"""The seller's product and brand names the spelling rule accepts, per seller account."""

from peewee import TextField
from playhouse.migrate import SchemaMigrator, migrate

from core.models import SellerAccount


def up(db):
    table = SellerAccount._meta.table_name
    # 0001 creates tables from the current models, so a fresh install has the column.
    if "allowed_words" not in {c.name for c in db.get_columns(table)}:
        migrator = SchemaMigrator.from_database(db)
        migrate(migrator.add_column(table, "allowed_words", TextField(default="")))
