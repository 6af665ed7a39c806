"""The activation preview (``core.activation.preview``): how long the "Activate" page
takes to say what going live would send, for an account with many past orders.

The preview decides every (order, step) pair of the newest ``PREVIEW_ORDERS`` orders
one by one, with the same ``core.decide`` planning uses (and the dispatcher's re-check
for the pairs due now), so its cost grows with that cap, not with the account's size:
``ms_per_pair`` is the figure to watch. BENCH_ACTIVATION sets the order count
(default 3,000: more than the cap, so the page says it counted the newest only).
"""

from __future__ import annotations

import os
import time

from .data import add_campaigns, fill_orders, make_engine


def run() -> dict:
    from core.activation import PREVIEW_ORDERS, preview
    from core.models import Campaign

    orders = int(os.environ.get("BENCH_ACTIVATION", "3000"))
    engine = make_engine()
    fill_orders(orders)
    (step,) = add_campaigns(1)
    campaign = Campaign.get_by_id(step.campaign_id)
    campaign.status = "draft"
    campaign.save()
    figures: dict = {"orders": orders, "cap": PREVIEW_ORDERS}
    for label, days in (("new_orders_only", None), ("last_30_days", 30)):
        started = time.perf_counter()
        report = preview(engine, campaign, days)
        seconds = time.perf_counter() - started
        pairs = report.orders_checked  # one step
        figures[label] = {
            "seconds": round(seconds, 3),
            "orders_checked": report.orders_checked,
            "send_now": report.send_now,
            "later": report.later,
            "left_out": report.orders_before,
            "ms_per_pair": round(seconds * 1000 / pairs, 2) if pairs else None,
        }
    return figures
