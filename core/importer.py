"""Importing orders from a file through an order source's ``import_file``.

Seller Central's All Orders report carries no ship or delivery dates, only statuses: an
imported order without a delivery window gets an estimated one
(``core.default_windows.with_delivery_window``), as a synced one does.
"""

from __future__ import annotations

from pathlib import Path

from .default_windows import with_delivery_window
from .ingest import ingest
from .models import SellerAccount
from .plain_errors import plain_exception


class ImportError_(Exception):  # noqa: N801 - avoid shadowing the builtin ImportError
    """The file cannot be imported; the message names the file and what is wrong."""


def import_orders(
    engine, path: Path, account_name: str, source_name: str = "amazon", *, create_account=True
) -> str:
    """Import ``path`` into the account named ``account_name``.

    The account is created if it does not exist and ``create_account`` allows it (the web
    admin allows it to admins only); a file that cannot be read leaves no new account."""
    source = engine.sources.get(source_name)
    if source is None or source.import_file is None:
        known = ", ".join(n for n, s in engine.sources.items() if s.import_file) or "none"
        raise ImportError_(f"order source {source_name!r} cannot import files (can: {known})")
    if not path.is_file():
        raise ImportError_(f"{path}: no such file")
    account = SellerAccount.get_or_none(SellerAccount.name == account_name)
    created = account is None
    if created and not create_account:
        raise ImportError_(
            f"there is no account named {account_name!r}: choose an existing account, "
            "or ask an admin to create it"
        )
    if created:
        account = SellerAccount.create(name=account_name, source=source_name)
    try:
        batch = [with_delivery_window(o) for o in source.import_file(engine, account, path)]
    except ValueError as exc:
        if created:
            account.delete_instance()
        raise ImportError_(f"{path}: {plain_exception(exc)}") from exc
    ingested = ingest(engine, account, batch, f"import:{path.name}")
    result, planned = ingested.stored, ingested.planned
    markets = sorted({o.marketplace for o in batch})
    if markets and set(markets) - set(account.marketplaces or []):
        account.marketplaces = sorted(set(account.marketplaces or []) | set(markets))
        account.save()
    text = (
        f"{path.name}: {result.created} new, {result.updated} updated, "
        f"{result.unchanged} unchanged orders into {account.name!r}; "
        f"{planned.planned} messages planned"
    )
    if result.errors:
        text += f"; {len(result.errors)} rejected, first: {result.errors[0]}"
    return text
