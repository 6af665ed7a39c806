"""``followup doctor``: checks an installation and says what to fix, one line a problem.

It changes nothing: no data folder, database, queue file or key is created (before
``followup init`` it says to run it), and it never prints a traceback. It refuses what
would silently lose data: a missing encryption key file while credentials are stored
(the key was lost: restore it), a SQLite path in a folder that does not exist.
Production checks: file permissions (core/files.py), the session secret, HTTPS cookies
behind the proxy (web/transport.py), the worker's heartbeat, overdue due messages and
the last backup (core/heartbeat.py).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

from cryptography.fernet import Fernet

from . import migrations
from .clock import utcnow
from .compliance.dictionaries import missing
from .config import ConfigError, Settings, load_settings
from .crypto import CredentialError, decrypt_json
from .engine import Engine
from .files import sqlite_files, too_open
from .heartbeat import (
    BACKUP_STALE,
    OVERDUE_AFTER,
    WORKER_STALE,
    describe_age,
    last_backup,
    last_worker,
    overdue,
)
from .keyguard import encrypted_accounts, lost_key_message
from .models import SellerAccount
from .queue import make_huey

Check = tuple[bool, str, str]

# A session secret shorter than this can be guessed offline from one signed cookie.
MIN_SECRET_CHARS = 32


def run_checks(config_path: str | None = None) -> Iterator[Check]:
    """Every check, in order; stops early only when later checks cannot run."""
    try:
        yield from _run(config_path)
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback
        yield False, "doctor", f"stopped by {type(exc).__name__}: {exc}"


def _run(config_path: str | None) -> Iterator[Check]:
    try:
        settings = load_settings(config_path, create=False)
    except ConfigError as exc:
        yield False, "config", str(exc)
        return
    yield True, "config", f"{settings.path} is valid"
    data_dir = settings.data_dir
    if not data_dir.is_dir():
        yield False, "data folder", f"{data_dir} does not exist yet: run 'followup init'."
        return
    db_file = _sqlite_path(settings.database_url)
    if db_file is not None:
        if not db_file.parent.is_dir():
            yield (
                False,
                "database",
                f"[database] url: folder {db_file.parent} does not exist. Fix the path, or "
                f"create it (mkdir -m 700 {db_file.parent}) and run 'followup init'.",
            )
            return
        if not db_file.exists():
            yield False, "database", f"{db_file} does not exist yet: run 'followup init'."
            return
    try:
        engine = Engine(settings)
    except ConfigError as exc:
        yield False, "plugins", str(exc)
        return
    except Exception as exc:  # noqa: BLE001 - a database that is down, a bad plugin
        yield False, "database", f"cannot open {_safe_url(settings)}: {_one_line(exc)}"
        return
    yield True, "plugins", ", ".join(engine.plugin_list)
    try:
        engine.db.execute_sql("SELECT 1")
        pending = migrations.pending(engine.db)
    except Exception as exc:  # noqa: BLE001
        yield False, "database", f"cannot open {_safe_url(settings)}: {_one_line(exc)}"
        return
    if pending:
        yield False, "database", f"migrations pending: {', '.join(pending)}. Run 'followup init'."
        return
    yield True, "database", f"{_safe_url(settings)} is up to date"
    keys_ok = yield from _keys(settings, engine)
    yield from _permissions(settings, db_file)
    yield from _queue(settings)
    yield from _secret_key(settings)
    yield from _https(settings)
    if keys_ok:
        yield from _credentials(engine)
    live = _live_accounts()
    yield from _worker(live)
    yield from _overdue()
    yield from _backup(live)
    yield from _clock()
    yield from _dictionaries()


def _dictionaries() -> Iterator[Check]:
    """The spelling rule's word lists (docs/linter.md): without them it checks less."""
    absent = missing()
    if absent:
        yield (
            False,
            "spelling dictionaries",
            f"missing {', '.join(absent)}: run scripts/ensure-dictionaries (as root)",
        )
    else:
        yield True, "spelling dictionaries", "word lists and Hunspell dictionaries installed"


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        return Path(url[len("sqlite:///") :])
    return None


def _safe_url(settings: Settings) -> str:
    """The database URL without a password."""
    url = settings.database_url.split("?")[0]
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        url = f"{scheme}://{creds.split(':')[0]}@{host}"
    return url


def _keys(settings: Settings, engine) -> Iterator[Check]:
    """Key files not created yet, a lost encryption key, a malformed one. Returns
    whether stored credentials can be checked with the key."""
    ok = True
    for section, key, path in settings.missing:
        if (section, key) == ("security", "encryption_key"):
            count = encrypted_accounts(engine.db)
            if count:
                yield False, "encryption key", lost_key_message(path, count)
                ok = False
                continue
        yield False, f"[{section}] {key}", f"{path} does not exist yet: run 'followup init'."
        ok = False if key == "encryption_key" else ok
    key = settings.get("security", "encryption_key")
    if key:
        try:
            Fernet(key.encode())
        except (ValueError, TypeError):
            yield (
                False,
                "encryption key",
                "[security] encryption_key is not a valid key (44 characters of url-safe "
                "base64). Restore the right key file from your backup.",
            )
            return False
    return ok


def _permissions(settings: Settings, db_file: Path | None) -> Iterator[Check]:
    paths = [settings.data_dir]
    if db_file is not None:
        paths += sqlite_files(db_file)
    if settings.get("queue", "backend") == "sqlite":
        paths += sqlite_files(settings.resolve_path(settings.get("queue", "path")))
    paths += [p for _, _, p in _key_files(settings)]
    bad = 0
    for path in paths:
        mode = too_open(path) if path.exists() else None
        if mode:
            bad += 1
            want = "700" if path.is_dir() else "600"
            yield False, "permissions", f"{path} is {mode}, readable by others: chmod {want} {path}"
    if not bad:
        yield True, "permissions", f"{settings.data_dir} and its files are private"


def _key_files(settings: Settings) -> list[tuple[str, str, Path]]:
    """(section, key, path) of the secrets configured as files."""
    return [
        (section, key, settings.resolve_path(spec["file"]))
        for section, key, spec in settings.sources
        if "file" in spec
    ]


def _queue(settings: Settings) -> Iterator[Check]:
    backend = settings.get("queue", "backend")
    if backend == "sqlite":
        path = settings.resolve_path(settings.get("queue", "path"))
        if not path.exists():
            yield True, "queue", f"{path} is created when the worker first starts"
            return
    try:
        pending = make_huey(settings).pending_count()
    except Exception as exc:  # noqa: BLE001
        yield False, "queue", f"cannot open the {backend} queue: {_one_line(exc)}"
        return
    yield True, "queue", f"{backend} queue reachable, {pending} pending"


def _secret_key(settings: Settings) -> Iterator[Check]:
    secret = settings.get("web", "secret_key")
    if secret and len(secret) < MIN_SECRET_CHARS:
        yield (
            False,
            "secret key",
            f"[web] secret_key has {len(secret)} characters; use at least {MIN_SECRET_CHARS}: "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'",
        )
    elif secret:
        yield True, "secret key", "long enough"


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _https(settings: Settings) -> Iterator[Check]:
    """Session cookies must travel over HTTPS only, which needs the proxy's word."""
    web = settings.section("web")
    mode, proxies, host = web["secure_cookies"], web["trusted_proxies"], web["host"]
    if mode == "never":
        yield (
            False,
            "https cookies",
            '[web] secure_cookies = "never": the session cookie may travel over plain HTTP. '
            'Use "auto" behind a TLS proxy.',
        )
    elif not _is_loopback(host) and proxies == 0 and mode == "auto":
        yield (
            False,
            "https cookies",
            f"[web] host = {host!r} serves plain HTTP to the network. Listen on 127.0.0.1 "
            "behind a TLS proxy (deploy/Caddyfile) and set [web] trusted_proxies = 1.",
        )
    elif proxies == 0 and mode == "auto":
        yield (
            True,
            "https cookies",
            "no proxy trusted: cookies are Secure on direct HTTPS only. Behind a TLS proxy "
            "set [web] trusted_proxies = 1.",
        )
    else:
        yield True, "https cookies", f"Secure per request ({mode}), {proxies} proxy(ies) trusted"


def _live_accounts() -> int:
    return SellerAccount.select().where(~SellerAccount.is_demo).count()


def _worker(live: int) -> Iterator[Check]:
    seen = last_worker()
    if seen is None:
        if live:
            yield False, "worker", "has never run: start it (systemctl start followup-worker)."
        else:
            yield True, "worker", "has not run yet; start it before connecting a seller account"
    elif seen.age() > WORKER_STALE:
        yield (
            False,
            "worker",
            f"last seen {describe_age(seen.age())} ago ({seen.detail}): restart it "
            "(systemctl restart followup-worker) and read its log (journalctl -u "
            "followup-worker).",
        )
    else:
        yield True, "worker", f"alive, last seen {describe_age(seen.age())} ago ({seen.detail})"


def _overdue() -> Iterator[Check]:
    count, oldest = overdue()
    if count:
        minutes = int(OVERDUE_AFTER.total_seconds() // 60)
        yield (
            False,
            "due messages",
            f"{count} due message(s) waiting more than {minutes} min, the oldest due "
            f"{oldest:%Y-%m-%d %H:%M} UTC: is the worker running? (journalctl -u followup-worker)",
        )
    else:
        yield True, "due messages", "none overdue"


def _backup(live: int) -> Iterator[Check]:
    seen = last_backup()
    if seen is None:
        if live:
            yield False, "backup", "no backup yet: run 'followup backup' (daily, see the README)."
        else:
            yield True, "backup", "no backup yet (nothing but demo data to lose)"
    elif seen.age() > BACKUP_STALE:
        yield (
            False,
            "backup",
            f"the last backup is {describe_age(seen.age())} old ({seen.detail}): run "
            "'followup backup' daily (the README's timer does).",
        )
    else:
        yield True, "backup", f"{seen.detail}, {describe_age(seen.age())} ago"


def _credentials(engine) -> Iterator[Check]:
    accounts = list(SellerAccount.select())
    if not accounts:
        yield True, "accounts", "no seller account yet: connect one, or load demo data"
    for account in accounts:
        if account.source not in engine.sources:
            yield False, f"account {account.name}", f"order source {account.source!r} not enabled"
            continue
        try:
            decrypt_json(engine.settings, account.credentials)
        except CredentialError as exc:
            yield False, f"account {account.name}", str(exc)
            continue
        ok = account.status != "error"
        yield ok, f"account {account.name}", account.status_message or account.status


def _clock() -> Iterator[Check]:
    # Amazon rejects requests whose clock is far off, and send windows depend on it.
    now = utcnow()
    ok = now.year >= 2024
    yield (
        ok,
        "clock",
        f"UTC now {now:%Y-%m-%d %H:%M}" + ("" if ok else ": the system clock is wrong"),
    )
