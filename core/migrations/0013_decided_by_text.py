"""A decision's ``decided_by`` holds how the deciding plugin describes itself, which can be
longer than 40 characters (the core's review window says which Amazon rule it applies).
SQLite does not enforce varchar lengths; PostgreSQL does."""


def up(db):
    if db.param == "%s":  # PostgreSQL
        db.execute_sql("ALTER TABLE decision ALTER COLUMN decided_by TYPE TEXT")
