"""Request a Review throughput against the fake SP-API enforcing 1 request/s, burst 5.

Sends 200 review requests through the real dispatcher and the Amazon plugin over HTTP
and prints achieved rate / allowed rate (target >= 0.95) and the 429s (target 0).
The achieved rate excludes the first 5 requests, which the burst allows at once.
"""

from __future__ import annotations

import os
import time

from tests.fake_spapi import FakeSPAPI
from tests.fake_spapi.harness import CREDS, connect, review_step

from .data import make_engine


def run() -> dict:
    from core.dispatch import dispatch_due
    from core.planning import plan_orders
    from core.sync import sync_account

    count = int(os.environ.get("BENCH_REVIEWS", 200))
    with FakeSPAPI() as fake:
        fake.page_size = 100
        for n in range(count):
            fake.add_order(f"302-{n:07d}-1234567")
        engine = make_engine(
            plugin_settings={
                "amazon": {
                    "endpoint": fake.url,
                    "lwa_url": fake.url + "/auth/o2/token",
                    "development_endpoints": True,
                }
            }
        )
        engine.settings.section("dispatch")  # batch size from config (50)
        creds = dict(CREDS, lwa_app_id="app", lwa_client_secret="s")
        account = connect(engine, name="Bench", creds=creds)
        review_step()  # Request a Review on delivery
        result = sync_account(engine, account.id)
        plan_orders(engine, result.changed_ids)
        start = time.perf_counter()
        sent = dispatch_due(engine, rounds=10_000).states.get("sent", 0)
        elapsed = time.perf_counter() - start
        posts = fake.count("createProductReviewAndSellerFeedbackSolicitation")
        engine.close()
    achieved = (posts - fake.burst) / elapsed if elapsed else 0.0
    return {
        "review_requests": count,
        "sent": sent,
        "posts_received": posts,
        "seconds": round(elapsed, 1),
        "achieved_over_allowed": round(achieved / fake.rate, 3),
        "throttled_429": fake.throttled,
        "targets": {"achieved_over_allowed": ">= 0.95", "throttled_429": 0},
    }
