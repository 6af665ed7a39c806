"""Email themes: the seller's own layouts, and the theme each template version uses."""

from peewee import CharField
from playhouse.migrate import SchemaMigrator, migrate

from core.models import EmailTheme, TemplateVersion


def up(db):
    db.create_tables([EmailTheme], safe=True)
    table = TemplateVersion._meta.table_name
    # 0001 creates tables from the current models, so a fresh install has the column.
    if "theme" not in {c.name for c in db.get_columns(table)}:
        migrator = SchemaMigrator.from_database(db)
        migrate(migrator.add_column(table, "theme", CharField(max_length=60, default="")))
