"""Two worker processes, each with the shipped two huey threads, SIGKILLed at random
moments (at least 100 times in all) and restarted while they send through the Amazon
plugin to the project's fake SP-API; the fake's own record judges "never twice".

The single-process version is ``test_worker_kill_spapi.py``. Here the second process
and the second thread are what matter: with short leases (3 s), a killed worker's
messages come back to the live one while it is itself mid-batch, and a batch sent at
Amazon's real rates (1 request/s, burst 5, per seller and operation) outlasts a lease.
Those are the moments a dispatcher without fenced claims sends a message twice or
overwrites a review request Amazon accepted.

Each process is ``python -m core.worker`` (SqliteHuey file + the app's SQLite file).
Four sellers, each with its own refresh token and, as on Amazon, its own token buckets,
send Request a Review (``amazon_review``) and confirmCustomizationDetails with the
step's stored PDF manual (``amazon_messaging``: Uploads API destination, PUT, POST).
Orders are released to the workers a few at a time so both processes always have work.
Each kill comes at a random moment (0.3-2.3 s after the last) and goes to a random one
of the processes then holding claimed messages; every eighth order's POST is held by
the fake after it took effect (fault ``timeout_after_commit``), and while one is held
the kill goes to the process waiting for it.

What must hold afterwards, checked against the fake's record:

* no order received the same message twice: one Request a Review POST per order, one
  Messaging POST per order and message type (every POST the fake received counts, also
  those it refused: a blind resend is a second recorded POST even when Amazon says 403);
* none lost: every released message ends final or waiting, with a reason, none left
  ``sending`` once the leases expired and the last dispatch rounds ran;
* nothing Amazon accepted is recorded as anything but ``sent`` or ``in_doubt``, and
  nothing is recorded as ``sent`` that Amazon did not accept.
"""

from __future__ import annotations

import logging
import random
import signal
import time
from datetime import timedelta

from core.attachments import StoredFile
from core.clock import utcnow
from core.contracts import RETRY, SCHEDULED, SENDING
from core.models import Message, Order
from core.queue import make_huey
from core.tasks import EngineQueue
from tests.fake_spapi import FakeSPAPI
from tests.fake_spapi.harness import (
    CUSTOM_POST,
    MANUAL_PDF,
    REVIEW_POST,
    assert_never_twice,
    judge,
    review_and_customization,
    two_thread_worker,
)
from tests.support.figures import record
from tests.support.worker import WorkerPool, keep_dispatch_queued, owner_pid, settle, worker_log

log = logging.getLogger(__name__)

CUSTOM_SKU = "ENGRAVED-1"  # orders with it also get the customization message
SELLERS = 4
ORDERS = 1200  # more than the workers can send during the kills: the queue never runs dry
KILLS = 100
LEASE_SECONDS = 3  # short, so a killed worker's leases expire while the other one works
BATCH_SIZE = 10  # ten messages at Amazon's rates take longer than a 3-second lease
CLIENT_TIMEOUT = 8  # how long the plugin waits for an answer; a held POST waits longer
HELD_EVERY = 8  # every 8th order's POST is held after it took effect
RELEASE = 10  # orders released at a time...
BACKLOG = 12  # ...whenever fewer due messages than this wait for the workers
KILL_GAP = (0.3, 2.3)  # seconds between kills, uniformly random
QUEUED_TASKS = 4  # dispatch tasks kept in the queue: one per worker thread
DEADLINE = 330.0  # the whole test: a hard cap, so CI never hangs on it
SETTLE = 60.0  # kept for after the last kill: leases expire, in-doubt reviews reconciled


def order_id(n: int) -> str:
    return f"303-{7100000 + n:07d}-{(n * 7919) % 10000000:07d}"


def set_up(engine, fake: FakeSPAPI) -> list[str]:
    """The orders on the fake (every second one customized, every eighth with its POST
    held), synced, spread over the sellers and planned, every message held back;
    returns the order ids in release order."""
    ids = [order_id(n) for n in range(ORDERS)]
    for n, oid in enumerate(ids):
        fake.add_order(oid, delivered_days_ago=7 + n % 5, sku=CUSTOM_SKU if n % 2 == 0 else "SKU-1")
        if n % HELD_EVERY == 0:
            # Alternately the review and the customization POST (n is even: customized).
            held = REVIEW_POST if (n // HELD_EVERY) % 2 else CUSTOM_POST
            fake.faults[f"{held}:{oid}"] = ["timeout_after_commit"]
    review_and_customization(engine, fake, ids, CUSTOM_SKU, SELLERS)
    Message.update(due_at=utcnow() + timedelta(days=7)).execute()  # released a few at a time
    return ids


class Feeder:
    """Releases orders (both their messages come due now) whenever fewer than
    ``BACKLOG`` due messages wait, and keeps dispatch tasks queued."""

    def __init__(self, runtime, ids: list[str]):
        self.runtime = runtime
        self.waiting = list(ids)
        self.orders: set[str] = set()
        self.messages: set[int] = set()

    def top_up(self, release: bool = True) -> None:
        due = Message.select().where(
            Message.state.in_((SCHEDULED, RETRY)) & (Message.due_at <= utcnow())
        )
        if release and self.waiting and due.count() < BACKLOG:
            chunk, self.waiting = self.waiting[:RELEASE], self.waiting[RELEASE:]
            query = Message.select(Message.id).join(Order).where(Order.order_id.in_(chunk))
            ids = [m.id for m in query]
            # Held back until now: no worker has seen these messages.
            Message.update(due_at=utcnow()).where(
                Message.id.in_(ids) & (Message.state == SCHEDULED)
            ).execute()
            self.orders.update(chunk)
            self.messages.update(ids)
        keep_dispatch_queued(self.runtime, QUEUED_TASKS)


def working(pool: WorkerPool) -> list[int]:
    """Indexes of the pool's processes holding claimed messages right now."""
    owners = Message.select(Message.lease_owner).where(Message.state == SENDING).distinct()
    pids = {owner_pid(m.lease_owner) for m in owners}
    return [i for i, pid in enumerate(pool.pids) if pid in pids]


def holders(fake: FakeSPAPI) -> set[int]:
    """Pids of the workers waiting for a POST the fake holds after it took effect."""
    senders = {REVIEW_POST: "amazon_review", CUSTOM_POST: "amazon_messaging"}
    with fake.lock:
        held = [key.rsplit(":", 1) for key in fake.in_flight]
    wanted = {(senders[op], oid) for op, oid in held if op in senders}
    if not wanted:
        return set()
    owners = (
        Message.select(Message.lease_owner, Message.sender, Order.order_id)
        .join(Order)
        .where(Order.order_id.in_([oid for _, oid in wanted]) & (Message.state == SENDING))
    )
    return {owner_pid(m.lease_owner) for m in owners if (m.sender, m.order.order_id) in wanted}


def test_two_worker_processes_killed_100_times_never_send_twice(tmp_path, fake):
    """At least 100 SIGKILLs of one of two two-thread workers at random moments, each
    restarted at once, then the fake's record is compared with the messages."""
    started = time.monotonic()
    deadline = started + DEADLINE
    seed = random.randrange(1 << 32)
    rng = random.Random(seed)  # the seed is in every figure line, to replay a failure
    fake.page_size = 100
    fake.limits_per_seller = True  # Amazon's usage plans are per seller and operation
    fake.hang_seconds = CLIENT_TIMEOUT + 2
    config, engine = two_thread_worker(
        tmp_path, fake, timeout=CLIENT_TIMEOUT, lease_seconds=LEASE_SECONDS, batch_size=BATCH_SIZE
    )
    pool = None
    try:
        ids = set_up(engine, fake)
        setup_calls = len(fake.calls)
        log.info("set up in %.1f s", time.monotonic() - started)
        feeder = Feeder(EngineQueue(engine, make_huey(engine.settings)), ids)
        feeder.top_up()
        pool = WorkerPool(config, 2, SP_API_DEFAULT_MARKETPLACE=None)
        kills = held_kills = 0
        next_kill = time.monotonic() + rng.uniform(*KILL_GAP)
        while kills < KILLS:
            assert time.monotonic() < deadline - SETTLE, (
                f"only {kills} kills in {time.monotonic() - started:.0f} s (seed {seed})"
            )
            feeder.top_up()
            # Only a process holding claims is killed: one still starting up (seconds
            # on a loaded machine) has nothing to lose, and killing it again and again
            # would leave the test with kills but no sends.
            busy = working(pool) if time.monotonic() >= next_kill else []
            if not busy:
                time.sleep(0.05)
                continue
            # A process waiting for a held POST is the victim: the kill where the send
            # took effect and the worker never learns it.
            waiting = holders(fake)
            held = [i for i in busy if pool.pids[i] in waiting]
            victim = held[0] if held else rng.choice(busy)
            code = pool.restart(victim, signal.SIGKILL)
            assert code == -signal.SIGKILL, (
                f"a worker died by itself ({code})\n{worker_log(config)}"
            )
            kills += 1
            held_kills += bool(held)
            next_kill = time.monotonic() + rng.uniform(*KILL_GAP)
        log.info("%d kills after %.0f s", kills, time.monotonic() - started)

        calm, left, codes = settle(
            pool, lambda: feeder.top_up(release=False), deadline, ("amazon_review",)
        )
        pool = None
        elapsed = time.monotonic() - started
        verdict = judge(fake, feeder.messages)
        figures = (
            f"{kills} kills ({held_kills} with a POST held in flight), seed {seed}, "
            f"{len(feeder.orders)} orders released, {verdict.summary()}, "
            f"{fake.throttled} answered 429, {elapsed:.0f} s"
        )
        log.warning("kill test: %s", figures)
        record("kill test (2 processes x 2 threads)", figures)
        (tmp_path / "figures.txt").write_text(figures + "\n")

        assert_never_twice(verdict, figures, config, calm, left, codes)
        # The run tested something: many sends under the kills, several with the POST
        # on the wire when its worker died, the manual with each customization message.
        assert held_kills >= 5, figures
        assert verdict.accepted >= 150, figures
        check_attachments(fake)
        # Orders never released were never touched: nothing is sent before it is due.
        touched = {c.order_id for c in fake.calls[setup_calls:]} - {""}
        assert touched <= feeder.orders, f"{sorted(touched - feeder.orders)[:10]}: {figures}"
        assert elapsed < DEADLINE, figures
    finally:
        if pool is not None:
            pool.kill()
        engine.close()


def check_attachments(fake: FakeSPAPI) -> None:
    """Every customization message Amazon accepted referenced an upload made for that
    order's message and carrying the step's manual."""
    assert StoredFile.select().count() == 1
    with fake.lock:
        sent = [(oid, body) for oid, bodies in fake.messages.items() for _, body in bodies]
        uploads = dict(fake.uploads)
    assert sent, "no customization message was accepted"
    for oid, body in sent:
        [attachment] = body["attachments"]
        upload = uploads[attachment["uploadDestinationId"]]
        assert upload["resource"] == f"messaging/v1/orders/{oid}/messages/{CUSTOM_POST}"
        assert upload["uploaded"] and upload["data"] == MANUAL_PDF
        assert attachment["fileName"] == "manual.pdf"
