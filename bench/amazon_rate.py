"""Request a Review throughput against the fake SP-API enforcing 1 request/s, burst 5.

Sends ``BENCH_REVIEWS`` (120) review requests through the real dispatcher and the
Amazon plugin over HTTP, once with one process and once with ``BENCH_RATE_PROCESSES``
(4) worker processes draining the same database at once, and prints for each the
achieved rate / allowed rate (target >= 0.95) and the 429s (target 0). The achieved
rate excludes the first 5 requests, which the burst allows at once.

The processes share the seller's token buckets through the database (or Redis with
``BENCH_RATE_QUEUE=redis``); ``BENCH_RATE_BUCKETS=process`` gives each process its own
in-memory buckets instead, as before they were shared, to show what that costs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

from tests.fake_spapi import FakeSPAPI
from tests.fake_spapi.harness import CREDS, connect, review_step
from tests.support.processes import race

from .data import make_engine

REDIS_URL = "redis://127.0.0.1:6379/14"


def _sections(fake, folder: Path) -> dict:
    sections = {
        "plugin_settings": {
            "amazon": {
                "endpoint": fake.url,
                "lwa_url": fake.url + "/auth/o2/token",
                "development_endpoints": True,
            }
        }
    }
    if os.environ.get("BENCH_RATE_QUEUE") == "redis":
        name = f"bench-rate-{uuid.uuid4().hex[:8]}"
        sections["queue"] = {"backend": "redis", "redis_url": REDIS_URL, "name": name}
    return sections


def _drain(folder: str, sections: dict, ready, start, done) -> None:
    """One worker process: wait for the start signal, dispatch until nothing is due."""
    import logging

    from core.dispatch import dispatch_due

    logging.basicConfig(level="WARNING")
    engine = make_engine(Path(folder), **sections)
    if os.environ.get("BENCH_RATE_BUCKETS") == "process":
        from core import MemoryBuckets
        from plugins.amazon import client

        client.limiter = client.RateLimiter(store=MemoryBuckets())
    ready.put(os.getpid())
    start.wait()
    result = dispatch_due(engine)
    engine.close()
    done.put(result.states.get("sent", 0))


def _run(count: int, processes: int) -> dict:
    from core.planning import plan_orders
    from core.sync import sync_account

    folder = Path(tempfile.mkdtemp(prefix="followup-bench-rate-"))
    try:
        with FakeSPAPI() as fake:
            fake.page_size = 100
            for n in range(count):
                fake.add_order(f"302-{n:07d}-1234567")
            sections = _sections(fake, folder)
            engine = make_engine(folder, **sections)
            creds = dict(CREDS, lwa_app_id="app", lwa_client_secret="s")
            account = connect(engine, name="Bench", creds=creds)
            review_step()  # Request a Review on delivery
            result = sync_account(engine, account.id)
            plan_orders(engine, result.changed_ids)
            engine.close()
            run = race(_drain, (str(folder), sections), processes)
            sent, elapsed = sum(run.answers), run.seconds
            posts = fake.count("createProductReviewAndSellerFeedbackSolicitation")
            throttled = fake.throttled
            allowed = fake.rate
            burst = fake.burst
    finally:
        shutil.rmtree(folder, True)
    achieved = (posts - burst) / elapsed if elapsed else 0.0
    return {
        "processes": processes,
        "review_requests": count,
        "sent": sent,
        "posts_received": posts,
        "seconds": round(elapsed, 1),
        "achieved_over_allowed": round(achieved / allowed, 3),
        "throttled_429": throttled,
    }


def run() -> dict:
    count = int(os.environ.get("BENCH_REVIEWS", 120))
    many = int(os.environ.get("BENCH_RATE_PROCESSES", 4))
    return {
        "buckets": os.environ.get("BENCH_RATE_BUCKETS", "shared"),
        "1_process": _run(count, 1),
        f"{many}_processes": _run(count, many),
        "targets": {"achieved_over_allowed": ">= 0.95", "throttled_429": 0},
    }
