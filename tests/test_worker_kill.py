"""A real huey consumer process is SIGKILLed in the middle of dispatching, restarted,
and the receiving server's own record shows every message arrived exactly once.

The sender here is a minimal test plugin (``tests/support/http_sender.py``) with no "ask
first" call of its own, so only the core's leases, attempt rows and reconcile stand
between a kill and a double send. The same scenario through the Amazon plugin and the
project's fake SP-API is in ``test_worker_kill_spapi.py``."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from core.config import load_settings
from core.contracts import FINAL_STATES, SENT
from core.engine import Engine
from core.models import Campaign, Message, SellerAccount, Step
from core.planning import plan_orders
from core.queue import make_huey
from core.store import store_orders
from core.tasks import EngineQueue
from tests.conftest import order_data
from tests.support.worker import leases_expired, start_worker, wait_for, worker_config

ORDERS = 40


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), RecorderHandler)
        self.received: Counter = Counter()
        self.lock = threading.Lock()


class RecorderHandler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.server.lock:
            self.server.received[(body["order_id"], body["step"])] += 1
        time.sleep(0.05)  # a slow API: the kill lands mid-batch
        self._json({"ok": True})

    def do_GET(self):
        q = parse_qs(urlparse(self.path).query)
        key = (q["order_id"][0], int(q["step"][0]))
        self._json({"count": self.server.received[key]})

    def _json(self, data):
        raw = json.dumps(data).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


@pytest.fixture
def recorder():
    server = Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def recorder_url(recorder) -> str:
    return f"http://127.0.0.1:{recorder.server_port}"


def test_sigkill_mid_dispatch_then_restart_sends_each_message_once(tmp_path, recorder, monkeypatch):
    config = worker_config(tmp_path, ["amazon", "tests.support.http_sender"])
    # the plugin loaded in this process (and the worker's copy of the env) call here
    monkeypatch.setenv("FOLLOWUP_TEST_RECORDER_URL", recorder_url(recorder))
    engine = Engine(load_settings(config))
    engine.migrate()
    account = SellerAccount.create(name="S", source="demo")
    batch = [order_data("US", delivered_days_ago=7) for _ in range(ORDERS)]
    ids = store_orders(account, batch, "test").changed_ids
    campaign = Campaign.create(name="Review", status="active")
    Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="http_review",
        window_start_hour=0,
        window_end_hour=24,
    )
    assert plan_orders(engine, ids).planned == ORDERS
    runtime = EngineQueue(engine, make_huey(engine.settings))

    worker = start_worker(config, FOLLOWUP_TEST_RECORDER_URL=recorder_url(recorder))
    try:
        runtime.dispatch()  # enqueued in the SqliteHuey file; the worker picks it up
        assert wait_for(lambda: sum(recorder.received.values()) >= 10), "worker never sent"
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    killed_at = sum(recorder.received.values())
    assert killed_at < ORDERS, "the kill came too late to test anything"

    # the killed worker's leases expire ([dispatch] lease_seconds = 2)
    assert wait_for(leases_expired, timeout=10)
    worker = start_worker(config, FOLLOWUP_TEST_RECORDER_URL=recorder_url(recorder))
    try:

        def all_final():
            runtime.dispatch()  # the lost huey task is simply enqueued again
            time.sleep(0.5)
            engine.db.connect(reuse_if_open=True)
            return all(m.state in FINAL_STATES for m in Message.select())

        assert wait_for(all_final, timeout=40), Counter(m.state for m in Message.select())
    finally:
        worker.send_signal(signal.SIGINT)
        worker.wait(timeout=30)

    assert all(count == 1 for count in recorder.received.values()), recorder.received
    assert len(recorder.received) == ORDERS
    assert Message.select().where(Message.state == SENT).count() == ORDERS
    engine.close()
