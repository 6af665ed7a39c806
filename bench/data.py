"""Bulk synthetic data for benchmarks: fast inserts straight through peewee.

Orders look like the demo plugin's (US/DE/JP, FBA/FBM, delivered 5-25 days ago), so
planning does real work on them.
"""

from __future__ import annotations

import atexit
import random
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path

from peewee import chunked

from core.clock import utcnow
from core.config import settings_from_dict
from core.db import database
from core.engine import Engine
from core.models import Campaign, Order, OrderEvent, OrderItem, Product, SellerAccount, Step

BATCH = 20_000


def make_engine(folder: Path | None = None, **sections) -> Engine:
    """A fresh engine on a temp-folder SQLite database, removed when the process exits."""
    if folder is None:
        folder = Path(tempfile.mkdtemp(prefix="followup-bench-"))
        atexit.register(shutil.rmtree, folder, True)
    cfg = {
        "app": {"data_dir": str(folder)},
        "web": {"secret_key": {"file": str(folder / "secret"), "generate": True}},
        "database": {"url": f"sqlite:///{folder / 'bench.db'}"},
        "queue": {"backend": "memory"},
        "security": {"encryption_key": {"file": str(folder / "key"), "generate": True}},
        "plugins": {"enabled": ["amazon"], "entrypoints": False},
    }
    for name, values in sections.items():
        cfg.setdefault(name, {}).update(values)
    engine = Engine(settings_from_dict(cfg, folder / "config.toml"))
    engine.migrate()
    return engine


def fill_orders(
    n: int, *, start: int = 0, seed: int = 1, days: tuple[float, float] = (5, 25)
) -> None:
    """Insert ``n`` delivered orders with one item and three events each, delivered
    between ``days`` ago (default: recent, so every one is live)."""
    rng = random.Random(seed + start)
    account = SellerAccount.get_or_create(name="Bench", defaults={"source": "demo"})[0]
    now = utcnow()
    markets = ("US", "DE", "JP")
    for lo in range(start, start + n, BATCH):
        hi = min(lo + BATCH, start + n)
        rows = []
        for i in range(lo, hi):
            delivered = now - timedelta(days=rng.uniform(*days))
            placed = delivered - timedelta(days=rng.uniform(2, 6))
            rows.append(
                dict(
                    account=account.id,
                    order_id=f"{100 + i % 900:03d}-{i:07d}-{rng.randrange(10**7):07d}",
                    marketplace=markets[i % 3],
                    fulfillment="FBA" if i % 5 else "FBM",
                    status="Shipped",
                    purchased_at=placed,
                    last_updated_at=delivered,
                    shipped_at=placed + timedelta(days=1),
                    earliest_delivery=delivered,
                    latest_delivery=delivered,
                    delivery_confirmed=True,
                    total=round(rng.uniform(5, 300), 2),
                    currency="USD",
                    buyer_key=f"b{rng.randrange(n * 2)}",
                    buyer_locale="en_US",
                    ship_country="US",
                    item_count=1,
                    created_at=now,
                )
            )
        with database.atomic():
            for part in chunked(rows, 1000):
                Order.insert_many(part).execute()
            first = Order.select(Order.id).where(Order.order_id == rows[0]["order_id"]).scalar()
            ids = range(first, first + len(rows))
            items = [
                dict(
                    order=oid,
                    sku=f"SKU-{oid % 50}",
                    asin=f"B0{oid % 50:08d}",
                    title=f"Widget model {oid % 50}",
                    quantity=1,
                    price=r["total"],
                )
                for oid, r in zip(ids, rows, strict=True)
            ]
            for part in chunked(items, 5000):
                OrderItem.insert_many(part).execute()
            # The product catalogue, as core.store keeps it.
            products = sorted({(i["sku"], i["asin"], i["title"]) for i in items})
            Product.insert_many(
                products, fields=[Product.sku, Product.asin, Product.title]
            ).on_conflict_ignore().execute()
            # Each order was placed, shipped and delivered: one event of each kind.
            kinds = (
                ("ordered", "purchased_at"),
                ("shipped", "shipped_at"),
                ("delivered", "latest_delivery"),
            )
            events = [
                dict(order=oid, kind=kind, occurred_at=r[column], recorded_at=now, source="bench")
                for oid, r in zip(ids, rows, strict=True)
                for kind, column in kinds
            ]
            for part in chunked(events, 5000):
                OrderEvent.insert_many(part).execute()


def add_campaigns(count: int, sender: str = "dry_run") -> list[Step]:
    """``count`` active campaigns of one review-request-like step each."""
    steps = []
    for n in range(count):
        campaign = Campaign.create(name=f"Bench {n}", status="active")
        steps.append(
            Step.create(
                campaign=campaign,
                position=1,
                name="step",
                trigger="delivered",
                delay_days=n % 7,
                sender=sender,
                message_type="review_request" if n == 0 else "",
                rules=[{"rule": "not_cancelled_returned_refunded", "params": {}}],
                window_start_hour=0,
                window_end_hour=24,
            )
        )
    return steps
