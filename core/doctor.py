"""``followup doctor``: checks an installation and says what to fix."""

from __future__ import annotations

from collections.abc import Iterator

from .clock import utcnow
from .config import ConfigError, load_settings

Check = tuple[bool, str, str]


def run_checks(config_path: str | None = None) -> Iterator[Check]:
    try:
        settings = load_settings(config_path)
    except ConfigError as exc:
        yield False, "config", str(exc)
        return
    yield True, "config", f"{settings.path} is valid"
    try:
        from .engine import Engine

        engine = Engine(settings)
    except Exception as exc:  # noqa: BLE001 - report anything that stops start-up
        yield False, "plugins/database", f"{type(exc).__name__}: {exc}"
        return
    yield True, "plugins", ", ".join(engine.plugin_list)
    try:
        engine.db.execute_sql("SELECT 1")
        from . import migrations

        pending = migrations.pending(engine.db)
        if pending:
            yield (
                False,
                "database",
                f"migrations pending: {', '.join(pending)}. Run 'followup init'.",
            )
        else:
            yield True, "database", f"{settings.database_url.split('?')[0]} is up to date"
    except Exception as exc:  # noqa: BLE001
        yield False, "database", f"cannot open {settings.database_url}: {exc}"
        return
    yield from _queue(settings)
    yield from _credentials(engine)
    yield from _clock()
    yield from _dictionaries()


def _dictionaries() -> Iterator[Check]:
    """The spelling rule's word lists (docs/linter.md): without them it checks less."""
    from .compliance.dictionaries import missing

    absent = missing()
    if absent:
        yield (
            False,
            "spelling dictionaries",
            f"missing {', '.join(absent)}: run scripts/ensure-dictionaries (as root)",
        )
    else:
        yield True, "spelling dictionaries", "word lists and Hunspell dictionaries installed"


def _queue(settings) -> Iterator[Check]:
    from .queue import make_huey

    try:
        huey = make_huey(settings)
        pending = huey.pending_count()
        yield (
            True,
            "queue",
            f"{settings.get('queue', 'backend')} queue reachable, {pending} pending",
        )
    except Exception as exc:  # noqa: BLE001
        yield False, "queue", f"cannot open the {settings.get('queue', 'backend')} queue: {exc}"


def _credentials(engine) -> Iterator[Check]:
    from .crypto import CredentialError, decrypt_json
    from .models import SellerAccount

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
