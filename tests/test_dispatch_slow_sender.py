"""No kills: two worker processes with the shipped two huey threads each, and Amazon
slower than the lease. Nothing crashes, so every lease that expires belongs to a live
worker still sending its batch; the fake SP-API's own record judges "never twice".

Amazon (the fake) answers every Request a Review and Messaging POST a second after it
took effect, and every eighth order's POST only after 4.5 seconds, longer than the
3-second lease by itself; each seller has Amazon's real rates (1 request/s, burst 5, per
seller and operation). A batch of ten such messages takes far longer than its lease, so
the other three threads find it expired while it is being sent: a dispatcher that takes
an expired lease for a crashed worker sends those messages a second time, or records a
review request Amazon accepted as "waiting: not offered".

Checked against the fake's record: no order received the same message twice (every
POST counts, also those answered 403), nothing Amazon accepted is recorded as anything
but sent, nothing recorded as sent that Amazon did not accept, and every message ends
final or waiting with a reason.
"""

from __future__ import annotations

import logging
import time

from core.contracts import SENT
from core.queue import make_huey
from core.tasks import EngineQueue
from tests.fake_spapi.harness import (
    CUSTOM_POST,
    REVIEW_POST,
    assert_never_twice,
    judge,
    review_and_customization,
    two_thread_worker,
)
from tests.support.figures import record
from tests.support.worker import WorkerPool, keep_dispatch_queued, settle

log = logging.getLogger(__name__)

CUSTOM_SKU = "ENGRAVED-1"  # orders with it also get the customization message
SELLERS = 2
ORDERS = 40  # every second one also gets the customization message: 60 messages
LEASE_SECONDS = 3
BATCH_SIZE = 10  # ten slow sends: one batch takes several leases
POST_DELAY = 1.0  # every POST is answered this long after it took effect...
SLOW_DELAY = 4.5  # ...and every eighth order's after this, longer than a lease
CLIENT_TIMEOUT = 10  # longer than any delay: every send gets its answer
QUEUED_TASKS = 4  # dispatch tasks kept in the queue: one per worker thread
DEADLINE = 150.0  # the whole test: a hard cap, so CI never hangs on it


def order_id(n: int) -> str:
    return f"304-{7200000 + n:07d}-{(n * 7919) % 10000000:07d}"


def test_sender_slower_than_the_lease_never_sends_twice(tmp_path, fake):
    started = time.monotonic()
    deadline = started + DEADLINE
    fake.page_size = 100
    fake.limits_per_seller = True  # Amazon's usage plans are per seller and operation
    ids = [order_id(n) for n in range(ORDERS)]
    for n, oid in enumerate(ids):
        fake.add_order(oid, delivered_days_ago=7 + n % 5, sku=CUSTOM_SKU if n % 2 == 0 else "SKU-1")
    for operation in (REVIEW_POST, CUSTOM_POST):
        fake.delays[operation] = POST_DELAY
        for oid in ids[::8]:
            fake.delays[f"{operation}:{oid}"] = SLOW_DELAY
    config, engine = two_thread_worker(
        tmp_path, fake, timeout=CLIENT_TIMEOUT, lease_seconds=LEASE_SECONDS, batch_size=BATCH_SIZE
    )
    pool = None
    try:
        review_and_customization(engine, fake, ids, CUSTOM_SKU, SELLERS)
        runtime = EngineQueue(engine, make_huey(engine.settings))
        keep_dispatch_queued(runtime, QUEUED_TASKS)
        pool = WorkerPool(config, 2, SP_API_DEFAULT_MARKETPLACE=None)

        # Every thread keeps starting dispatch rounds, each of which first looks for
        # expired leases: the moment a slow batch is taken for a dead one.
        calm, left, codes = settle(
            pool, lambda: keep_dispatch_queued(runtime, QUEUED_TASKS), deadline, ("amazon_review",)
        )
        pool = None
        elapsed = time.monotonic() - started
        verdict = judge(fake)
        figures = f"{verdict.summary()}, {fake.throttled} answered 429, {elapsed:.0f} s"
        log.warning("slow sender: %s", figures)
        record("slow sender (2 processes x 2 threads)", figures)
        (tmp_path / "figures.txt").write_text(figures + "\n")

        assert_never_twice(verdict, figures, config, calm, left, codes)
        # Slow is not stuck: nothing crashed and every answer came within the client's
        # timeout, so all but the odd message a 429 sent to a later try went out (a
        # dispatcher that sent nothing would pass every check above).
        assert verdict.states[SENT] >= 0.8 * verdict.states.total(), figures
        assert elapsed < DEADLINE, figures
    finally:
        if pool is not None:
            pool.kill()
        engine.close()
