"""Order import speed and memory against the database's own floor, SQLite and PostgreSQL.

For each size (BENCH_INGEST, default "100000,1000000" orders) a generated All Orders TSV
file (one line per item, 1 in 5 orders with two items) is imported twice, each run in its
own fresh process and database with the schema ``followup`` creates (every index):

* ``project``: ``core.importer.import_orders``, the path ``followup import-orders`` runs
  (stream the file, parse, estimate delivery windows, validate, batched upserts of
  orders, items and events, changed orders handed to planning batch by batch). No
  campaign is active, so planning answers at once: planning is ``bench.planning``'s.
* ``raw``: the floor. The same file read with ``csv.reader`` and its rows written with
  plain ``executemany`` (SQLite) or multi-row ``VALUES`` pages (PostgreSQL, psycopg2's
  ``execute_values``) into the same tables: the same order, item and event rows, ids
  assigned by the writer, no parsing of dates, no checks, no lookups.

``ratio`` is project rows/s / raw rows/s (target >= 0.5), the median over
BENCH_INGEST_PAIRS alternating pairs (default 3 up to 100,000 orders, 1 above);
``ratio_cpu`` the same with each process's CPU time; ``peak_rss_mb`` is the
project process's ``ru_maxrss`` (target <= 250 MB, 1M within 1.2x of 100k). PostgreSQL
runs when BENCH_PG_URL (default postgresql://postgres@127.0.0.1:5432/postgres) answers,
for the sizes in BENCH_INGEST_PG (default: every size);
each run gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import csv
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.fake_spapi.reports import COLUMNS  # the All Orders layout the fake serves

AT = {column: index for index, column in enumerate(COLUMNS)}  # the raw floor reads by position

CHANNELS = (("Amazon.com", "USD", "US"), ("Amazon.de", "EUR", "DE"), ("Amazon.co.jp", "JPY", "JP"))
STATUSES = (
    ("Shipped", "Shipped - Delivered to Buyer"),
    ("Shipped", "Shipped"),
    ("Pending", "Unshipped"),
    ("Cancelled", "Cancelled"),
)
RAW_BATCH = 2000


def write_report(path: Path, orders: int, seed: int = 7) -> int:
    """Write an All Orders report of ``orders`` orders; returns its number of lines."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    lines = 0
    with open(path, "w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, delimiter="\t", lineterminator="\n")
        out.writerow(COLUMNS)
        for i in range(orders):
            channel, currency, country = CHANNELS[i % 3]
            status, item_status = STATUSES[0 if i % 10 < 6 else (i % 10) - 5 if i % 10 < 9 else 3]
            placed = now - timedelta(days=rng.uniform(0, 700))
            updated = placed + timedelta(days=rng.uniform(1, 8))
            oid = f"{100 + i % 900:03d}-{i:07d}-{rng.randrange(10**7):07d}"
            for n in range(2 if i % 5 == 0 else 1):
                row = {
                    "amazon-order-id": oid,
                    "purchase-date": placed.isoformat(),
                    "last-updated-date": updated.isoformat(),
                    "order-status": status,
                    "fulfillment-channel": "Amazon" if i % 4 else "Merchant",
                    "sales-channel": channel,
                    "product-name": f"Product {i % 5000} with a plain title",
                    "sku": f"SKU-{(i + n) % 5000}",
                    "asin": f"B0{(i + n) % 5000:08d}",
                    "item-status": item_status,
                    "quantity": "1",
                    "currency": currency,
                    "item-price": f"{rng.uniform(5, 300):.2f}",
                    "shipping-price": "4.90",
                    "ship-country": country,
                    "is-business-order": "false",
                }
                out.writerow([row.get(column, "") for column in COLUMNS])
                lines += 1
    return lines


def _engine(folder: Path, url: str | None):
    from .data import make_engine

    return make_engine(folder, **({"database": {"url": url}} if url else {}))


def _project(path: Path, folder: Path, url: str | None) -> dict:
    from core.importer import import_orders

    engine = _engine(folder, url)
    start, cpu = time.perf_counter(), time.process_time()
    summary = import_orders(engine, path, "Bench")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.close()
    return {"seconds": seconds, "cpu_seconds": cpu, "summary": summary}


def _raw_rows(path: Path):
    """(order, items, events) row batches straight from the file, ids counted here."""
    order_id, orders, items, events = 0, [], [], []
    last = None
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    with open(path, encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t")
        next(reader)
        for row in reader:
            if row[AT["amazon-order-id"]] != last:
                if len(orders) >= RAW_BATCH:
                    yield orders, items, events
                    orders, items, events = [], [], []
                last = row[AT["amazon-order-id"]]
                order_id += 1
                status = row[AT["order-status"]]
                # Shipped orders get a delivery window, as the import estimates one.
                window = row[AT["last-updated-date"]] if status == "Shipped" else None
                delivered = "Delivered" in row[AT["item-status"]]
                orders.append(
                    (
                        order_id,
                        1,
                        row[AT["amazon-order-id"]],
                        row[AT["ship-country"]],
                        "FBA",
                        status,
                        row[AT["purchase-date"]],
                        row[AT["last-updated-date"]],
                        None,
                        window,
                    )
                    + (
                        window,
                        delivered,
                        float(row[AT["item-price"]]),
                        row[AT["currency"]],
                        "",
                        "",
                        "",
                        row[AT["ship-country"]],
                        False,
                    )
                    + (False, False, int(row[AT["quantity"]]), False, False, False, now)
                )
                events.append((order_id, "ordered", row[AT["purchase-date"]], now, "raw"))
                if status == "Shipped":
                    events.append((order_id, "shipped", row[AT["last-updated-date"]], now, "raw"))
                if "Delivered" in row[AT["item-status"]]:
                    events.append((order_id, "delivered", row[AT["last-updated-date"]], now, "raw"))
                if status == "Cancelled":
                    events.append((order_id, "cancelled", row[AT["last-updated-date"]], now, "raw"))
            items.append(
                (
                    order_id,
                    row[AT["sku"]],
                    row[AT["asin"]],
                    row[AT["product-name"]],
                    int(row[AT["quantity"]]),
                    float(row[AT["item-price"]]),
                )
            )
    if orders:
        yield orders, items, events


ORDER_COLUMNS = (
    "id, account_id, order_id, marketplace, fulfillment, status, purchased_at, "
    "last_updated_at, shipped_at, earliest_delivery, latest_delivery, delivery_confirmed, "
    "total, currency, buyer_key, buyer_email, buyer_locale, ship_country, is_business, "
    "is_prime, shipped_late, item_count, negative_feedback, messages_stopped, is_demo, "
    "created_at"
)
ITEM_COLUMNS = "order_id, sku, asin, title, quantity, price"
EVENT_COLUMNS = "order_id, kind, occurred_at, recorded_at, source"


def _raw(path: Path, folder: Path, url: str | None) -> dict:
    from core.db import database
    from core.models import SellerAccount

    engine = _engine(folder, url)
    SellerAccount.create(name="Bench", source="amazon")
    db = database.obj
    sqlite = url is None
    start, cpu = time.perf_counter(), time.process_time()
    tables = (("order", ORDER_COLUMNS), ("order_item", ITEM_COLUMNS))
    tables += (("order_event", EVENT_COLUMNS),)
    for batch in _raw_rows(path):
        with db.atomic():
            cursor = db.cursor()
            for (table, columns), rows in zip(tables, batch, strict=True):
                if sqlite:
                    marks = ", ".join("?" * len(columns.split(",")))
                    cursor.executemany(f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', rows)
                else:
                    from psycopg2.extras import execute_values

                    sql = f'INSERT INTO "{table}" ({columns}) VALUES %s'
                    execute_values(cursor, sql, rows, page_size=1000)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.close()
    return {"seconds": seconds, "cpu_seconds": cpu}


def child(kind: str, path: str, url: str) -> None:
    """One measured run in this process: prints its figures as JSON."""
    folder = Path(tempfile.mkdtemp(prefix="followup-ingest-"))
    try:
        run = _project if kind == "project" else _raw
        figures = run(Path(path), folder, url or None)
    finally:
        shutil.rmtree(folder, True)
    figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    sys.stdout.write(json.dumps(figures) + "\n")


def _spawn(kind: str, path: Path, url: str) -> dict:
    proc = subprocess.run(
        [sys.executable, "-m", "bench.ingest", kind, str(path), url],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"bench.ingest {kind} failed: {proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _pg_database(base: str, name: str, drop: bool = False) -> str | None:
    """Create (or drop) database ``name`` on the server of ``base``; None if unreachable."""
    try:
        import psycopg2

        conn = psycopg2.connect(base, connect_timeout=3)
    except Exception:  # noqa: BLE001 - no PostgreSQL here: the bench says so
        return None
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
        if not drop:
            cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    return base.rsplit("/", 1)[0] + "/" + name


def _measure(path: Path, lines: int, url_for, pairs: int) -> dict:
    """``pairs`` alternating raw/project runs; each figure is the median over the pairs
    (one pair is too noisy on a shared machine)."""
    runs: dict[str, list[dict]] = {"raw": [], "project": []}
    for _ in range(pairs):
        for kind in ("raw", "project"):
            url = url_for(kind)
            if url is None:
                return {"skipped": "PostgreSQL not reachable"}
            runs[kind].append(_spawn(kind, path, url))
    figures: dict = {}
    for kind, outs in runs.items():
        seconds = statistics.median(o["seconds"] for o in outs)
        figures[kind] = {
            "seconds": round(seconds, 2),
            "cpu_seconds": round(statistics.median(o["cpu_seconds"] for o in outs), 2),
            "rows_per_s": round(lines / seconds),
            "peak_rss_mb": max(o["peak_rss_mb"] for o in outs),
        }
        if "summary" in outs[-1]:
            figures[kind]["summary"] = outs[-1]["summary"]
    ratios = [
        r["seconds"] / p["seconds"] for r, p in zip(runs["raw"], runs["project"], strict=True)
    ]
    figures["ratio"] = round(statistics.median(ratios), 3)
    figures["ratio_cpu"] = round(
        figures["raw"]["cpu_seconds"] / figures["project"]["cpu_seconds"], 3
    )
    figures["pairs"] = pairs
    return figures


def run() -> dict:
    sizes = [int(s) for s in os.environ.get("BENCH_INGEST", "100000,1000000").split(",")]
    pg = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    out: dict = {"target": "ratio >= 0.5; peak RSS <= 250 MB, 1M within 1.2x of 100k"}
    folder = Path(tempfile.mkdtemp(prefix="followup-ingest-data-"))
    try:
        for size in sizes:
            path = folder / f"orders-{size}.tsv"
            lines = write_report(path, size)
            pairs = int(os.environ.get("BENCH_INGEST_PAIRS", "3" if size <= 100_000 else "1"))
            entry = {"lines": lines, "sqlite": _measure(path, lines, lambda kind: "", pairs)}
            names = []

            def pg_url(kind, size=size, names=names):
                name = f"followup_bench_ingest_{kind}_{size}"
                names.append(name)
                return _pg_database(pg, name)

            pg_sizes = os.environ.get("BENCH_INGEST_PG", ",".join(map(str, sizes)))
            try:
                if str(size) in pg_sizes.split(","):
                    entry["postgresql"] = _measure(path, lines, pg_url, pairs)
            finally:
                for name in names:
                    _pg_database(pg, name, drop=True)
            out[f"orders_{size}"] = entry
            path.unlink()
        rss = [out[f"orders_{s}"]["sqlite"]["project"]["peak_rss_mb"] for s in sizes]
        out["rss_largest_over_smallest"] = round(max(rss) / min(rss), 2)
    finally:
        shutil.rmtree(folder, True)
    return out


if __name__ == "__main__":
    child(*sys.argv[1:4])
