"""Amazon's daily message limit with four worker processes racing for the day's last
messages: exactly the limit goes out, judged by the fake SP-API's own record.

The account has ``LEFT`` messages of its daily limit left and ``ORDERS`` review requests
due. Four ``python -m core.worker`` processes (two huey threads each) dispatch them at
once, through the Amazon plugin, against a fake that answers each POST half a second
after it took effect: while those answers are awaited no send is recorded yet, the
moment a limit counted only from recorded sends lets every thread through.
"""

from __future__ import annotations

import time
from datetime import timedelta

from core.clock import utcnow
from core.config import load_settings
from core.contracts import SENT
from core.engine import Engine
from core.ledger import daily_usage
from core.models import Message, Order, SellerAccount
from core.queue import make_huey
from core.tasks import EngineQueue
from tests.fake_spapi.harness import (
    REVIEW_POST,
    amazon_settings,
    connect,
    review_step,
    sync_and_plan,
)
from tests.support.worker import WorkerPool, pending_work, wait_for, worker_config, worker_log

ORDERS = 24
LEFT = 3
PROCESSES = 4
DEADLINE = 90.0


def test_four_processes_racing_for_the_last_messages_send_exactly_the_limit(tmp_path, fake):
    fake.page_size = 100
    for operation in (REVIEW_POST, "getSolicitationActionsForOrder"):
        fake.limits[operation] = (50.0, 50)  # the rate is not what this test is about
    fake.delays[REVIEW_POST] = 0.5
    for n in range(ORDERS):
        fake.add_order(f"305-{7300000 + n:07d}-{(n * 7919) % 10000000:07d}", delivered_days_ago=7)
    config = worker_config(
        tmp_path,
        ["amazon"],
        amazon_settings(fake, timeout=10),
        workers=2,
        lease_seconds=30,
        batch_size=1,  # each thread takes one message at a time: all threads race
    )
    engine = Engine(load_settings(config))
    engine.migrate()
    pool = None
    try:
        account = connect(engine)
        review_step()
        sync_and_plan(engine, account)
        SellerAccount.update(last_sync_at=utcnow()).execute()  # the ticks sync nothing
        used, limit = daily_usage(account.id)
        # Earlier today's sends, on an order bought long ago (not in the 7-day average).
        old = Order.get()
        filler = Order.create(
            **{
                **{f.name: getattr(old, f.name) for f in Order._meta.sorted_fields[1:]},
                "order_id": "305-0000000-0000000",
                "purchased_at": utcnow() - timedelta(days=40),
            }
        )
        now = utcnow()
        rows = [
            dict(
                order=filler.id,
                account=account.id,
                sender="amazon_messaging",
                state=SENT,
                due_at=now,
                sent_at=now - timedelta(minutes=1),
                reason="sent earlier today",
            )
            for _ in range(limit - used - LEFT)
        ]
        Message.insert_many(rows).execute()
        assert daily_usage(account.id) == (limit - LEFT, limit)

        runtime = EngineQueue(engine, make_huey(engine.settings))
        for _ in range(2 * PROCESSES):
            runtime.dispatch()  # every worker thread starts a dispatch pass at once
        pool = WorkerPool(config, PROCESSES, SP_API_DEFAULT_MARKETPLACE=None)
        settled = wait_for(
            lambda: not pending_work().exists(), until=time.monotonic() + DEADLINE, poll=0.2
        )
        codes, pool = pool.stop(), None
        posts = fake.count(REVIEW_POST)
        sent_today, _ = daily_usage(account.id)
        waiting = Message.select().where(Message.reason.contains("daily message limit")).count()
        figures = f"{posts} POSTs, {sent_today}/{limit} used, {waiting} waiting for tomorrow"
        assert settled, f"{figures}\n{worker_log(config)}"
        assert codes == [0] * PROCESSES, f"{codes}: {figures}\n{worker_log(config)}"
        assert posts == LEFT, figures
        assert sent_today == limit, figures
        assert waiting == ORDERS - LEFT, figures
    finally:
        if pool is not None:
            pool.kill()
        engine.close()
