"""The blocklist page: who blocked a buyer (``opt_out.created_by``) and until when
(``opt_out.expires_at``; NULL = until removed). See core.blocklist."""

from peewee import CharField, DateTimeField
from playhouse.migrate import SchemaMigrator, migrate

from core.models import OptOut


def up(db):
    table = OptOut._meta.table_name
    # 0001 creates tables from the current models, so a fresh install has both columns.
    have = {c.name for c in db.get_columns(table)}
    migrator = SchemaMigrator.from_database(db)
    if "created_by" not in have:
        migrate(migrator.add_column(table, "created_by", CharField(max_length=80, default="")))
    if "expires_at" not in have:
        migrate(migrator.add_column(table, "expires_at", DateTimeField(null=True)))
