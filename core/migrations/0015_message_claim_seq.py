"""The claim fence: ``message.claim_seq``, raised by every claim (core.dispatch)."""

from peewee import IntegerField
from playhouse.migrate import SchemaMigrator, migrate

from core.models import Message


def up(db):
    table = Message._meta.table_name
    # 0001 creates tables from the current models, so a fresh install has the column.
    if "claim_seq" not in {c.name for c in db.get_columns(table)}:
        migrator = SchemaMigrator.from_database(db)
        migrate(migrator.add_column(table, "claim_seq", IntegerField(default=0)))
