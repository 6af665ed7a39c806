"""A campaign's pending re-plan: a large campaign edit is re-planned by the worker."""

from peewee import DateTimeField
from playhouse.migrate import SchemaMigrator, migrate

from core.models import Campaign


def up(db):
    table = Campaign._meta.table_name
    have = {c.name for c in db.get_columns(table)}
    # 0001 creates tables from the current models, so a fresh install has the columns.
    missing = [c for c in ("replan_requested_at", "replan_lease_until") if c not in have]
    if missing:
        migrator = SchemaMigrator.from_database(db)
        migrate(*(migrator.add_column(table, c, DateTimeField(null=True)) for c in missing))
