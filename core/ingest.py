"""Ingest: orders from any source are stored, then planned, in one call.

Every way orders arrive (the order source's sync, a report file, the demo) goes through
here, so no caller can store orders and forget to plan them, or plan before storing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from .contracts import OrderData
from .planning import PlanResult, plan_orders
from .store import StoreResult, store_orders
from .sync import sync_account


@dataclass
class Ingested:
    """What an ingest stored (``stored``) and what planning made of it (``planned``)."""

    stored: StoreResult
    planned: PlanResult = field(default_factory=PlanResult)


def ingest(engine, account, batch: Iterable[OrderData], source: str) -> Ingested:
    """Store ``batch`` for ``account`` (bad orders are reported, the rest stored), then
    plan every order that changed against the active campaigns."""
    stored = store_orders(account, batch, source, set(engine.marketplaces))
    return Ingested(stored, plan_orders(engine, stored.changed_ids))


def ingest_from_source(engine, account_id: int, *, full: bool = False) -> Ingested:
    """Sync an account from its order source (errors mark the account, never raise),
    then plan the orders that changed."""
    stored = sync_account(engine, account_id, full=full)
    if not stored.changed_ids:
        return Ingested(stored)
    return Ingested(stored, plan_orders(engine, stored.changed_ids))
