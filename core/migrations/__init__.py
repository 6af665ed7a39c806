"""Numbered schema migrations, applied in order at start.

Each module ``NNNN_name.py`` defines ``up(db)``. A table ``schema_migrations`` records
what ran. Convention: a migration must be idempotent against the current models (check
``db.get_columns`` before adding a column), because 0001 creates tables from the models
as they stand; that keeps a fresh install and an upgraded one on the same schema.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from datetime import UTC, datetime

from peewee import Database

log = logging.getLogger(__name__)


def available() -> list[tuple[int, str]]:
    """(number, module name) of every migration shipped, in order."""
    found = []
    for info in pkgutil.iter_modules(__path__):
        head = info.name.split("_", 1)[0]
        if head.isdigit():
            found.append((int(head), info.name))
    return sorted(found)


def applied(db: Database) -> set[int]:
    db.execute_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations "
        "(version INTEGER PRIMARY KEY, name VARCHAR(120) NOT NULL, applied_at VARCHAR(40))"
    )
    return {row[0] for row in db.execute_sql("SELECT version FROM schema_migrations")}


def migrate(db: Database) -> list[str]:
    """Apply every pending migration, each in its own transaction. Returns their names."""
    done = applied(db)
    ran = []
    for number, name in available():
        if number in done:
            continue
        module = importlib.import_module(f"{__name__}.{name}")
        with db.atomic():
            module.up(db)
            db.execute_sql(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)"
                if db.param == "%s"
                else "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                (number, name, datetime.now(UTC).isoformat()),
            )
        log.info("applied migration %s", name)
        ran.append(name)
    return ran


def pending(db: Database) -> list[str]:
    done = applied(db)
    return [name for number, name in available() if number not in done]
