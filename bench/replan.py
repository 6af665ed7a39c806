"""Full re-plan: every order x 10 campaigns, against the equivalent raw SQL counts.

The "equivalent raw SQL" is what a hand-written planner must at least read: per
campaign, count the orders whose trigger event exists and that have no cancellation,
return or refund. Issue 4's target: re-plan time <= 4 x that. BENCH_REPLAN sets the
order count (default 1,000,000; each order is planned against 10 campaigns).
"""

from __future__ import annotations

import os
import time

from .data import add_campaigns, fill_orders, make_engine

RAW = """
SELECT COUNT(*) FROM "order" o
JOIN order_event d ON d.order_id = o.id AND d.kind = 'delivered'
WHERE NOT EXISTS (SELECT 1 FROM order_event x WHERE x.order_id = o.id
                  AND x.kind IN ('cancelled', 'returned', 'refunded'))
"""


def run() -> dict:
    from core.planning import plan_all

    size = int(os.environ.get("BENCH_REPLAN", 1_000_000))
    campaigns = 10
    engine = make_engine()
    fill_orders(size)
    add_campaigns(campaigns)
    engine.db.execute_sql("ANALYZE")
    start = time.perf_counter()
    for _ in range(campaigns):
        engine.db.execute_sql(RAW).fetchone()
    raw = time.perf_counter() - start
    start = time.perf_counter()
    result = plan_all(engine)
    replan = time.perf_counter() - start
    engine.close()
    return {
        "orders": size,
        "campaigns": campaigns,
        "planned": result.planned,
        "raw_sql_seconds": round(raw, 3),
        "replan_seconds": round(replan, 3),
        "ratio": round(replan / raw, 1),
        "target_ratio": 4.0,
    }
