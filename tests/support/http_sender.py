"""A test plugin: a review-request sender that POSTs to a recording HTTP server.

Loaded by module path (``[plugins] enabled = ["tests.support.http_sender"]``) in a real
worker process, so a test can SIGKILL the worker mid-send and count, on the receiving
side, what really arrived. The URL comes from FOLLOWUP_TEST_RECORDER_URL.
"""

from __future__ import annotations

import json
import os
import urllib.request

from core import Sender, SendResult, hookimpl


def _url() -> str:
    return os.environ["FOLLOWUP_TEST_RECORDER_URL"]


def send(engine, message, order, rendered):
    body = json.dumps({"order_id": order.order_id, "step": message.step_id}).encode()
    request = urllib.request.Request(_url() + "/send", data=body, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            response.read()
    except TimeoutError:
        return SendResult("in_doubt", "timed out after sending")
    return SendResult("sent", "recorded by the test server")


def reconcile(engine, message, order):
    query = f"{_url()}/received?order_id={order.order_id}&step={message.step_id}"
    with urllib.request.urlopen(query, timeout=5) as response:
        return "sent" if json.loads(response.read())["count"] else "not_sent"


@hookimpl
def register_senders(engine):
    return [
        Sender(
            "http_review",
            "HTTP review (test)",
            send,
            reconcile=reconcile,
            review_request=True,
            needs_body=False,
        )
    ]
