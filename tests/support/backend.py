"""``FOLLOWUP_TEST_BACKEND=postgres``: every test's engine on PostgreSQL + Redis.

By default each test gets a temp-file SQLite database and a memory huey. With the switch
(``make test-postgres`` sets it for the tests it lists, worker processes too), the shared
``base_config`` points the database at one PostgreSQL database for the session (emptied
before each test: ``TRUNCATE ... RESTART IDENTITY``, so ids start at 1 as on a fresh
file) and the queue at Redis under a name of its own. A test that names its own database
or queue keeps it.
"""

from __future__ import annotations

import os
import uuid

BACKEND = os.environ.get("FOLLOWUP_TEST_BACKEND", "sqlite")
if BACKEND not in ("sqlite", "postgres"):
    raise RuntimeError(f"FOLLOWUP_TEST_BACKEND={BACKEND!r}: use sqlite or postgres")
PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
REDIS_URL = "redis://127.0.0.1:6379/14"  # the PostgreSQL runs' queue; tests use 15
KEEP = ("schema_migrations",)

_database: str | None = None
_queue = f"followup-t-{uuid.uuid4().hex[:8]}"


def _admin():
    import psycopg2

    conn = psycopg2.connect(**PG_ADMIN)
    conn.autocommit = True
    return conn


def database_url() -> str:
    """The session's PostgreSQL database (created at first use, dropped at exit)."""
    global _database
    if _database is None:
        name = f"followup_ci_{uuid.uuid4().hex[:10]}"
        conn = _admin()
        try:
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()
        _database = name
    return f"postgresql://postgres@127.0.0.1:5432/{_database}"


def defaults() -> dict:
    """The database and queue sections ``base_config`` starts from."""
    if BACKEND != "postgres":
        return {}
    return {
        "database": {"url": database_url()},
        "queue": {"backend": "redis", "redis_url": REDIS_URL, "name": _queue},
    }


def reset() -> None:
    """Empty every table (but the migrations record) and the test queue."""
    if BACKEND != "postgres" or _database is None:
        return
    import psycopg2

    conn = psycopg2.connect(**dict(PG_ADMIN, dbname=_database))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SET lock_timeout = '20s'")
            cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            tables = [t for (t,) in cur.fetchall() if t not in KEEP]
            if tables:
                names = ", ".join(f'"{t}"' for t in tables)
                cur.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        conn.close()
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"*{_queue}*"))
    if keys:
        client.delete(*keys)


def drop() -> None:
    global _database
    if _database is None:
        return
    conn = _admin()
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (_database,),
            )
            cur.execute(f'DROP DATABASE IF EXISTS "{_database}"')
    finally:
        conn.close()
    _database = None
