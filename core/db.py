"""Database connection: one peewee ``DatabaseProxy`` bound at start to SQLite or PostgreSQL.

SQLite is the embedded default. It runs in WAL mode (readers never block the writer)
with a busy timeout, and write transactions that must not interleave (claiming due
messages) use ``BEGIN IMMEDIATE`` through ``write_transaction``. On PostgreSQL the same
code path uses ``SELECT ... FOR UPDATE SKIP LOCKED`` (see ``core.dispatch``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote, urlparse

import peewee
from peewee import Database, DatabaseProxy, PostgresqlDatabase, SqliteDatabase

from .config import ConfigError
from .files import private_dir, private_file

log = logging.getLogger(__name__)

database = DatabaseProxy()


class Postgresql(PostgresqlDatabase):
    """PostgreSQL whose lazily committing transactions (``write_transaction(durable=
    False)``) say so in the same round trip as their ``BEGIN``."""

    def begin(self, isolation_level=None, lazy_commit: bool = False):
        if not lazy_commit or isolation_level or self._isolation_level:
            super().begin(isolation_level)
            if lazy_commit:
                self.execute_sql(LAZY_COMMIT)
            return
        # Two statements in one simple query: one round trip fewer per claim, lease
        # renewal and dry-run record, with the same transaction as BEGIN then SET.
        with peewee.__exception_wrapper__:
            self.cursor().execute(f"BEGIN; {LAZY_COMMIT}")


LAZY_COMMIT = "SET LOCAL synchronous_commit TO OFF"


def open_database(url: str, busy_timeout_ms: int = 5000, data_dir: Path | None = None) -> Database:
    """Create (not yet connect) the database named by ``url`` and bind the proxy to it.

    A SQLite file is created 0600 (see ``core.files``); its folder only when it is the
    data folder ``data_dir``: a missing folder anywhere else is a mistake in the path."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if path != ":memory:":
            prepare_sqlite_file(Path(path), data_dir, "[database] url")
        db: Database = SqliteDatabase(
            path,
            pragmas={
                "journal_mode": "wal",
                "busy_timeout": busy_timeout_ms,
                "foreign_keys": 1,
                "synchronous": "normal",
                "cache_size": -32000,
            },
            timeout=busy_timeout_ms / 1000,
            check_same_thread=False,
        )
    elif url.startswith(("postgresql://", "postgres://")):
        u = urlparse(url)
        db = Postgresql(
            unquote(u.path.lstrip("/")),
            user=unquote(u.username) if u.username else None,
            password=unquote(u.password) if u.password else None,
            host=u.hostname,
            port=u.port or 5432,
        )
    else:
        raise ValueError(f"[database] url: {url!r} is neither sqlite:///PATH nor postgresql://")
    database.initialize(db)
    return db


def prepare_sqlite_file(path: Path, data_dir: Path | None, key: str) -> None:
    """Make ``path``'s folder (only the data folder) and the file itself, both private."""
    folder = path.parent
    if data_dir is not None and folder.resolve() == Path(data_dir).resolve():
        private_dir(folder)
    elif not folder.is_dir():
        raise ConfigError(
            f"{key}: folder {folder} does not exist. Fix the path, or create the folder "
            f"(mkdir -m 700 {folder}) and run 'followup init'."
        )
    private_file(path)


def is_sqlite() -> bool:
    return isinstance(database.obj, SqliteDatabase)


@contextlib.contextmanager
def write_transaction(*, durable: bool = True, immediate: bool = True) -> Iterator[None]:
    """A transaction that takes the write lock up front.

    On SQLite a plain ``BEGIN`` is deferred: two workers could both read the same due
    message before either writes. ``BEGIN IMMEDIATE`` serialises claimers instead
    (``immediate=False``: a plain ``BEGIN``, for writes that need no such order).

    ``durable=False`` (PostgreSQL): the commit returns before its WAL record is flushed
    to disk (``synchronous_commit = off`` for this transaction only). Other processes
    see it at once; only a crash of the database server itself can lose it, together
    with every later commit (the WAL is written in order, and the next durable commit
    flushes all before it). For bookkeeping that a lost tail cannot turn into a wrong
    send: ``core.dispatch`` says which.
    """
    db = database.obj
    if isinstance(db, SqliteDatabase):
        with db.atomic("IMMEDIATE") if immediate else db.atomic():
            yield
    elif not durable and isinstance(db, Postgresql) and db.transaction_depth() == 0:
        with db.atomic(lazy_commit=True):
            yield
    else:
        with db.atomic():
            if not durable:
                db.execute_sql(LAZY_COMMIT)
            yield


def returning_alone(query, *, durable: bool) -> list[tuple]:
    """Run one statement (with RETURNING, or a SELECT over data-modifying ``WITH``s) as
    a transaction of its own; its rows. ``durable`` as for ``write_transaction``.

    On PostgreSQL outside a transaction it is one round trip instead of three or four
    (BEGIN, SET LOCAL, the statement, COMMIT): a durable one runs as it is (the server
    commits it synchronously), a lazy one goes with its SET LOCAL in one query string,
    which PostgreSQL runs as one implicit transaction, so the setting applies to that
    statement's commit alone and an error rolls both back. Elsewhere (SQLite, inside a
    transaction) it runs in ``write_transaction``.
    """
    db = database.obj
    if isinstance(db, SqliteDatabase) or db.transaction_depth():
        with write_transaction(durable=durable):
            return db.execute(query).fetchall()
    sql, params = db.get_sql_context().sql(query).query()
    if not durable:
        sql = f"{LAZY_COMMIT}; {sql}"  # the statement is peewee's, its values bound
    return db.execute_sql(sql, params).fetchall()
