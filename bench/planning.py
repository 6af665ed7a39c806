"""Planning cost: 1,000 changed orders in a small and in a large database.

Prints the time to plan the same number of changed orders in a database of SMALL and of
LARGE orders, and their ratio (target: large/small <= 1.5). Sizes default to
10,000 and 1,000,000; BENCH_LARGE overrides the large one for a quicker run.
"""

from __future__ import annotations

import logging
import os
import statistics
import time

from core.models import Order

from .data import add_campaigns, fill_orders, make_engine

log = logging.getLogger(__name__)

CHANGED = 1_000


def _time_planning(size: int, repeats: int = 3) -> float:
    from core.models import Decision, Message
    from core.planning import plan_orders

    engine = make_engine()
    fill_orders(size)
    add_campaigns(1)
    ids = [o.id for o in Order.select(Order.id).order_by(Order.id.desc()).limit(CHANGED)]
    samples = []
    for _ in range(repeats):
        Message.delete().where(Message.order.in_(ids)).execute()
        Decision.delete().where(Decision.order.in_(ids)).execute()
        start = time.perf_counter()
        plan_orders(engine, ids)
        samples.append(time.perf_counter() - start)
    engine.close()
    return statistics.median(samples)


def run() -> dict:
    small = int(os.environ.get("BENCH_SMALL", 10_000))
    large = int(os.environ.get("BENCH_LARGE", 1_000_000))
    t_small = _time_planning(small)
    t_large = _time_planning(large)
    result = {
        "changed_orders": CHANGED,
        "small_db_orders": small,
        "large_db_orders": large,
        "small_seconds": round(t_small, 3),
        "large_seconds": round(t_large, 3),
        "ratio_large_over_small": round(t_large / t_small, 3),
        "target_ratio": 1.5,
    }
    return result
