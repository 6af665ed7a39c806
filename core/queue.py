"""The huey instance: SqliteHuey in its own file by default, RedisHuey to scale.

Huey only *triggers* work. Tasks take ids, never payloads with secrets (so nothing
sensitive lands in the queue file or Redis), and the database stays the source of truth:
a task lost in a hard kill is redone by the next periodic tick.
"""

from __future__ import annotations

from huey import MemoryHuey, RedisHuey, SqliteHuey
from huey.api import Huey

from .config import Settings
from .db import prepare_sqlite_file


def make_huey(settings: Settings, *, immediate: bool = False) -> Huey:
    q = settings.section("queue")
    name = q["name"]
    if q["backend"] == "redis":
        return RedisHuey(name, url=q["redis_url"], immediate=immediate)
    if q["backend"] == "memory":
        return MemoryHuey(name, immediate=immediate)
    path = settings.resolve_path(q["path"])
    prepare_sqlite_file(path, settings.data_dir, "[queue] path")
    # A separate file from the app database: the queue's write traffic never holds the
    # app database's lock, and either file can be deleted/restored on its own.
    return SqliteHuey(name, filename=str(path), immediate=immediate, timeout=10)
