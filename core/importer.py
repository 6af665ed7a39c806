"""Importing orders from a file through an order source's ``import_file``.

Seller Central's All Orders report carries no ship or delivery dates, only statuses: an
imported order without a delivery window gets an estimated one
(``core.default_windows.with_delivery_window``), as a synced one does.

The file is read as a stream: orders are stored and planned a batch at a time
(``core.ingest``), so memory stays flat whatever the file's size.
"""

from __future__ import annotations

from pathlib import Path

from .default_windows import with_delivery_window
from .ingest import ingest
from .models import SellerAccount
from .plain_errors import plain_exception


class OrderImportError(Exception):
    """The file cannot be imported; the message names the file and what is wrong.

    ``stored`` counts the orders stored before a bad line stopped the import (0 when the
    file was refused before anything was stored). Importing the corrected file again is
    harmless: stored orders are recognised, not duplicated."""

    def __init__(self, text: str, stored: int = 0):
        super().__init__(text)
        self.stored = stored


# Creating a seller account is an admin's action, as on the Accounts form: an import by
# anyone else goes into an existing account only. (The command line runs as the
# installation's owner and may create one.)
ACCOUNT_CREATOR_ROLES = frozenset({"admin"})


def may_create_account(role: str) -> bool:
    """Whether an import by a user with ``role`` may create the account it names."""
    return role in ACCOUNT_CREATOR_ROLES


def import_orders(
    engine, path: Path, account_name: str, source_name: str = "amazon", *, create_account=True
) -> str:
    """Import ``path`` into the account named ``account_name``; returns the one-line
    summary the CLI prints and the web page shows.

    The account is created if it does not exist and ``create_account`` allows it (the web
    admin passes ``may_create_account(role)``); a file refused before any order was
    stored leaves no new account."""
    source = engine.sources.get(source_name)
    if source is None or source.import_file is None:
        known = ", ".join(n for n, s in engine.sources.items() if s.import_file) or "none"
        raise OrderImportError(f"order source {source_name!r} cannot import files (can: {known})")
    if not path.is_file():
        raise OrderImportError(f"{path}: no such file")
    account = SellerAccount.get_or_none(SellerAccount.name == account_name)
    created = account is None
    if created and not create_account:
        raise OrderImportError(
            f"there is no account named {account_name!r}: choose an existing account, "
            "or ask an admin to create it"
        )
    if created:
        account = SellerAccount.create(name=account_name, source=source_name)
    markets: set[str] = set()
    read = 0

    def orders():
        nonlocal read
        for data in source.import_file(engine, account, path):
            markets.add(data.marketplace)
            read += 1
            yield with_delivery_window(data)

    try:
        ingested = ingest(engine, account, orders(), f"import:{path.name}")
    except ValueError as exc:
        # Raised while reading: the header is checked before any order is stored; a bad
        # line stops the import there, with every order before it stored.
        if read == 0:
            if created:
                account.delete_instance()
            raise OrderImportError(f"{path}: {plain_exception(exc)}") from exc
        _add_markets(account, markets)
        raise OrderImportError(
            f"{path}: {plain_exception(exc)} (the {read} orders before it were stored: fix "
            "the file and import it again, stored orders are not duplicated)",
            stored=read,
        ) from exc
    result, planned = ingested.stored, ingested.planned
    _add_markets(account, markets)
    text = (
        f"{path.name}: {result.created} new, {result.updated} updated, "
        f"{result.unchanged} unchanged orders into {account.name!r}; "
        f"{planned.planned} messages planned"
    )
    if result.errors:
        text += f"; {result.rejected} rejected, first: {result.errors[0]}"
    return text


def _add_markets(account: SellerAccount, markets: set[str]) -> None:
    """The account sells where its imported orders were placed."""
    if markets and markets - set(account.marketplaces or []):
        account.marketplaces = sorted(set(account.marketplaces or []) | markets)
        account.save()
