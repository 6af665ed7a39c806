"""Four real worker processes (``core.worker``, two huey threads each) on one database:
the periodic tick's installation-wide part runs once per interval, not once per process,
and each seller account is synced by one of them at a time.

Every worker process's scheduler enqueues the tick, so each interval four ticks arrive
at once; the test enqueues them as the four schedulers do, on an interval shortened to
``TICK_SECONDS`` in the workers. A plugin job due every second (``tick_probe``) writes a
line each time it runs: it runs in the installation's tick, so its lines are the ticks.
With ``[sync] interval_minutes = 0`` every tick wants every account synced, and the fake
SP-API answers each order search only after ``SEARCH_DELAY``, so syncs of one account
would overlap if two processes ran them; the fake counts the searches in flight per
seller (each seller has its own refresh token, hence its own access token).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from urllib.parse import urlparse

from core.config import load_settings
from core.engine import Engine
from core.queue import make_huey
from core.tasks import EngineQueue
from tests.fake_spapi import FakeSPAPI
from tests.fake_spapi.harness import amazon_settings, sellers
from tests.support.worker import REPO, wait_for, worker_config, worker_log

PROCESSES = 4
TICK_SECONDS = 2
ROUNDS = 6
SEARCH_DELAY = 1.5
SELLERS = 3
SEARCH_PATH = "/orders/2026-01-01/orders"
# A real worker whose tick interval is TICK_SECONDS instead of a minute.
BOOT = (
    "import sys, core.tasks; core.tasks.EngineQueue.tick_seconds = {seconds}; "
    "from core.worker import main; sys.exit(main())"
)


class CountingFake(FakeSPAPI):
    """The fake SP-API holding each order search for ``SEARCH_DELAY`` seconds and
    recording, per access token (seller), the most searches it ever had in flight."""

    def __init__(self):
        super().__init__()
        self.in_flight: Counter = Counter()
        self.most: Counter = Counter()
        self.searches: Counter = Counter()
        self.watch = threading.Lock()
        base = self.RequestHandlerClass

        class Handler(base):
            def do_GET(self):  # noqa: N802 - BaseHTTPRequestHandler's naming
                fake = self.server
                if urlparse(self.path).path != SEARCH_PATH:
                    return super().do_GET()
                seller = self.headers.get("x-amz-access-token", "")
                with fake.watch:
                    fake.in_flight[seller] += 1
                    fake.searches[seller] += 1
                    fake.most[seller] = max(fake.most[seller], fake.in_flight[seller])
                try:
                    time.sleep(SEARCH_DELAY)
                    return super().do_GET()
                finally:
                    with fake.watch:
                        fake.in_flight[seller] -= 1

        self.RequestHandlerClass = Handler


def start(config, probe) -> subprocess.Popen:
    env = dict(
        os.environ,
        FOLLOWUP_CONFIG=str(config),
        FOLLOWUP_TICK_PROBE=str(probe),
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p),
    )
    env.pop("SP_API_DEFAULT_MARKETPLACE", None)
    return subprocess.Popen(
        [sys.executable, "-c", BOOT.format(seconds=TICK_SECONDS)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(config.parent / "worker.log").open("ab"),
    )


def test_four_workers_tick_once_per_interval_and_sync_each_account_once_at_a_time(tmp_path):
    probe = tmp_path / "ticks.txt"
    procs: list[subprocess.Popen] = []
    with CountingFake() as fake:
        fake.page_size = 100
        for n in range(3):
            fake.add_order(f"306-{7400000 + n:07d}-{(n * 7919) % 10000000:07d}")
        config = worker_config(
            tmp_path,
            ["amazon", "tests.support.tick_probe"],
            amazon_settings(fake, timeout=10),
            workers=2,
            extra_toml="[sync]\ninterval_minutes = 0\n",
        )
        engine = Engine(load_settings(config))
        engine.migrate()
        try:
            sellers(engine, fake, SELLERS)
            runtime = EngineQueue(engine, make_huey(engine.settings))
            procs = [start(config, probe) for _ in range(PROCESSES)]
            log = config.parent / "worker.log"
            up = wait_for(lambda: log.read_text().count("worker started") >= PROCESSES, 60)
            assert up, worker_log(config)
            for _ in range(ROUNDS):
                # Just after an interval starts, the four schedulers' ticks arrive.
                time.sleep(TICK_SECONDS - time.time() % TICK_SECONDS + 0.1)
                for _ in range(PROCESSES):
                    runtime.tick()
            time.sleep(TICK_SECONDS + SEARCH_DELAY)
        finally:
            for proc in procs:
                proc.send_signal(signal.SIGINT)
            codes = []
            for proc in procs:
                try:
                    codes.append(proc.wait(timeout=30))
                except subprocess.TimeoutExpired:
                    proc.kill()
                    codes.append(proc.wait(timeout=5))
            engine.close()

    ticks = [float(line.split()[0]) for line in probe.read_text().splitlines()]
    per_interval = Counter(int(t // TICK_SECONDS) for t in ticks)
    figures = (
        f"{len(ticks)} ticks in {len(per_interval)} intervals, most in one "
        f"{max(per_interval.values())}; searches per seller {sorted(fake.searches.values())}, "
        f"most in flight per seller {max(fake.most.values())}"
    )
    assert codes == [0] * PROCESSES, f"{codes}: {figures}\n{worker_log(config)}"
    assert max(per_interval.values()) == 1, figures
    assert len(per_interval) >= ROUNDS // 2, figures  # the ticks did run
    assert len(fake.searches) == SELLERS, figures
    assert max(fake.most.values()) == 1, figures
    assert min(fake.searches.values()) >= 2, figures  # synced again and again, never twice at once
