"""Importing orders from a file through an order source's ``import_file``.

Seller Central's All Orders report carries no ship or delivery dates, only statuses. An
imported order without a delivery window gets one here, as FBA orders get an estimate
from the Amazon plugin: the delivery itself when the report says it was delivered, else
an estimate from the order date (``core.default_windows.import_window``). Without it,
Request a Review ("from 5 days after the earliest delivery to 30 days after the latest")
would wait for a delivery date that never comes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from .contracts import DELIVERED, SHIPPED, OrderData
from .default_windows import import_window
from .ingest import ingest
from .models import SellerAccount


class ImportError_(Exception):  # noqa: N801 - avoid shadowing the builtin ImportError
    """The file cannot be imported; the message names the file and what is wrong."""


def with_delivery_window(data: OrderData) -> OrderData:
    """``data`` with the delivery window a file leaves out: the delivered event's time
    (as the Orders API's DELIVERED package status is taken), else, once shipped, the
    estimate of ``import_window``. An order that has one, or has not shipped, is kept."""
    if data.earliest_delivery or data.latest_delivery:
        return data
    delivered = data.events.get(DELIVERED)
    if delivered is not None:
        return replace(
            data, earliest_delivery=delivered, latest_delivery=delivered, delivery_confirmed=True
        )
    shipped = data.shipped_at or data.events.get(SHIPPED)
    if shipped is None:
        return data
    earliest, latest = import_window(data.marketplace, data.purchased_at, shipped)
    return replace(
        data, earliest_delivery=earliest, latest_delivery=latest, delivery_confirmed=False
    )


def import_orders(engine, path: Path, account_name: str, source_name: str = "amazon") -> str:
    source = engine.sources.get(source_name)
    if source is None or source.import_file is None:
        known = ", ".join(n for n, s in engine.sources.items() if s.import_file) or "none"
        raise ImportError_(f"order source {source_name!r} cannot import files (can: {known})")
    if not path.is_file():
        raise ImportError_(f"{path}: no such file")
    account, _ = SellerAccount.get_or_create(name=account_name, defaults={"source": source_name})
    try:
        batch = [with_delivery_window(o) for o in source.import_file(engine, account, path)]
    except ValueError as exc:
        raise ImportError_(f"{path}: {exc}") from exc
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
