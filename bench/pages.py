"""Admin page speed at scale: dashboard, orders and messages pages (50 rows, filtered).

Builds a database of SMALL orders (3 messages each) and one of LARGE orders, and prints
the p95 server time of each page in both and the ratio (target: large/small <=
1.5 with 1,000,000 orders and 3,000,000 messages). BENCH_PAGES_LARGE overrides the size.
Both databases are built first, then measured in alternating small/large runs
(BENCH_PAGES_PAIRS, default 3): each figure is the median over the pairs, each ratio
the median of the pairs' ratios.

Messages are due over the past year (as a seller's outbox is), so the dashboard's
30-day aggregates see ~30/365 of them. ``dashboard`` is the page as served (past days'
figures cached for five minutes); ``dashboard_uncached`` recomputes every figure on each
view and is reported apart: its cost grows with the orders of the last 30 days.
"""

from __future__ import annotations

import os
import statistics
import time
from datetime import timedelta

from peewee import chunked

from core.clock import utcnow
from core.db import database
from core.models import Message, Order, User
from core.passwords import hash_password

from .data import add_campaigns, fill_orders, make_engine

STATES = ("sent", "sent", "scheduled", "skipped", "sent", "failed")
DAY = utcnow().date()
URLS = {
    "dashboard": "/",
    "orders": "/orders/?marketplace=DE",
    "orders_status": "/orders/?marketplace=JP&fulfillment=FBM",
    "orders_sku": "/orders/?sku=SKU-7",
    "orders_asin": "/orders/?sku=B000000007",
    "orders_search_title": "/orders/?q=model+7",
    "orders_search_id": "/orders/?q=105-00",
    "orders_account": "/orders/?account=1",
    "orders_canceled": "/orders/?status=Canceled",
    "orders_dates": f"/orders/?marketplace=US&from={DAY - timedelta(days=20)}&to={DAY}",
    "messages": "/messages/?state=sent",
    "messages_failed": "/messages/?state=failed",
    "messages_market": "/messages/?account=1&marketplace=DE",
    "messages_dates": f"/messages/?state=sent&from={DAY - timedelta(days=30)}&to={DAY}",
    "message_detail": "/messages/1",
    "order_detail": "/orders/1",
    "attention": "/attention/",
    "blocklist": "/blocklist/",
    "coverage_missing": "/coverage/missing",
}
UNCACHED = {"dashboard_uncached": "/"}
REQUESTS = 40
UNCACHED_REQUESTS = 5


def _fill_messages(steps) -> None:
    now = utcnow()
    last = 0
    while True:
        ids = [
            i
            for (i,) in Order.select(Order.id)
            .where(Order.id > last)
            .order_by(Order.id)
            .limit(20_000)
            .tuples()
        ]
        if not ids:
            return
        rows = []
        for oid in ids:
            for n, step in enumerate(steps):
                state = STATES[(oid + n) % len(STATES)]
                due = now - timedelta(minutes=(oid * 7919 + n * 1440) % (365 * 1440))
                rows.append(
                    dict(
                        order=oid,
                        step=step.id,
                        campaign=step.campaign_id,
                        account=1,
                        sender="dry_run",
                        state=state,
                        due_at=due,
                        sent_at=due if state == "sent" else None,
                        review_request=n == 0,
                        dry_run=True,
                        created_at=now,
                        updated_at=now,
                    )
                )
        with database.atomic():
            for part in chunked(rows, 2000):
                Message.insert_many(part).execute()
        last = ids[-1]


def _build(size: int):
    from web import create_app

    engine = make_engine()
    fill_orders(size)
    _fill_messages(add_campaigns(3))
    engine.db.execute_sql("ANALYZE")
    User.create(
        username="bench",
        password_hash=hash_password("bench-password-1"),
        must_change_password=False,
    )
    app = create_app(engine=engine)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.post(
        "/login", data={"username": "bench", "password": "bench-password-1", "csrf_token": token}
    )
    return engine, app, client


def _measure(built) -> dict[str, float]:
    engine, app, client = built
    database.initialize(engine.db)  # two databases in one process: this one now
    app.config["DASHBOARD_CACHE_SECONDS"] = 300
    out = {name: _p95(client, url, REQUESTS) for name, url in URLS.items()}
    app.config["DASHBOARD_CACHE_SECONDS"] = 0
    out.update({name: _p95(client, url, UNCACHED_REQUESTS) for name, url in UNCACHED.items()})
    return out


def _p95(client, url: str, requests: int) -> float:
    samples = []
    for _ in range(requests):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.quantiles(samples, n=20)[18] if requests >= 20 else max(samples)


def run() -> dict:
    small = int(os.environ.get("BENCH_PAGES_SMALL", 10_000))
    large = int(os.environ.get("BENCH_PAGES_LARGE", 1_000_000))
    pairs = int(os.environ.get("BENCH_PAGES_PAIRS", 3))
    built = {"small": _build(small), "large": _build(large)}
    runs: dict[str, list[dict[str, float]]] = {"small": [], "large": []}
    for _ in range(pairs):  # alternating: one pair is too noisy on a shared machine
        for name in ("small", "large"):
            runs[name].append(_measure(built[name]))
    for engine, _, _ in built.values():
        engine.close()
    result = {"small_orders": small, "large_orders": large, "messages_per_order": 3}
    result["pairs"] = pairs
    for name in (*URLS, *UNCACHED):
        p_small = statistics.median(r[name] for r in runs["small"])
        p_large = statistics.median(r[name] for r in runs["large"])
        ratios = [b[name] / a[name] for a, b in zip(runs["small"], runs["large"], strict=True)]
        result[f"{name}_p95_ms_small"] = round(1000 * p_small, 1)
        result[f"{name}_p95_ms_large"] = round(1000 * p_large, 1)
        result[f"{name}_ratio"] = round(statistics.median(ratios), 2)
    result["target_ratio"] = 1.5
    return result
