"""Ingest: orders from any source are stored, then planned, batch by batch.

Every way orders arrive (the order source's sync, a report file, the demo) goes through
here, so no caller can store orders and forget to plan them, or plan before storing.
Each stored batch's changed orders are planned before the next batch is read, so a
million-order import holds one batch in memory, never the whole file.
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


def planner(engine, planned: PlanResult):
    """An ``on_changed`` callback for ``store_orders``: plans each stored batch's changed
    orders against the active campaigns and adds the outcome to ``planned``."""

    def plan(ids: list[int]) -> None:
        part = plan_orders(engine, ids)
        planned.planned += part.planned
        planned.updated += part.updated
        planned.waiting += part.waiting
        planned.excluded += part.excluded
        planned.errors += part.errors

    return plan


def ingest(engine, account, batch: Iterable[OrderData], source: str) -> Ingested:
    """Store ``batch`` for ``account`` (bad orders are reported, the rest stored), planning
    the orders that changed batch by batch. ``stored.changed_ids`` stays empty."""
    planned = PlanResult()
    stored = store_orders(
        account, batch, source, set(engine.marketplaces), on_changed=planner(engine, planned)
    )
    return Ingested(stored, planned)


def ingest_from_source(engine, account_id: int, *, full: bool = False) -> Ingested:
    """Sync an account from its order source (errors mark the account, never raise),
    planning the orders that changed batch by batch."""
    planned = PlanResult()
    stored = sync_account(engine, account_id, full=full, on_changed=planner(engine, planned))
    return Ingested(stored, planned)
