"""A small fake SP-API on 127.0.0.1: LWA tokens, searchOrders (v2026-01-01) and the
Solicitations operations, with Amazon's window and once-per-order rules, 403s, and a
"timeout after commit" fault. Enough to drive the Amazon plugin end to end over HTTP
through python-amazon-sp-api's own code paths. Records every call.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

REVIEW = "productReviewAndSellerFeedback"


class FakeSPAPI(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.orders: dict[str, dict] = {}
        self.refresh_tokens = {"good-refresh-token"}
        self.calls: list[tuple[str, str]] = []
        self.solicited: Counter = Counter()
        self.faults: dict[str, list[str]] = {}
        self.page_size = 2
        self.lock = threading.Lock()
        # Amazon's usage plan for the solicitation POST: 1 request/s, burst 5.
        self.rate, self.burst = 1.0, 5
        self._tokens, self._stamp = float(self.burst), time.monotonic()
        self.throttled = 0

    def take_token(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            self.throttled += 1
            return False

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is part of the tests, not an error

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()

    def add_order(
        self,
        order_id,
        *,
        marketplace_id="A1PA6795UKMFR9",
        fulfilled_by="MERCHANT",
        status="SHIPPED",
        delivered_days_ago=7,
        asin="B0FAKE0001",
    ):
        now = datetime.now(UTC)
        delivered = now - timedelta(days=delivered_days_ago)
        self.orders[order_id] = {
            "orderId": order_id,
            "createdTime": (delivered - timedelta(days=3)).isoformat(),
            "lastUpdatedTime": delivered.isoformat(),
            "salesChannel": {"channelName": "AMAZON", "marketplaceId": marketplace_id},
            "fulfillment": {"fulfillmentStatus": status, "fulfilledBy": fulfilled_by},
            "orderItems": [
                {
                    "orderItemId": "1",
                    "quantityOrdered": 1,
                    "product": {"asin": asin, "sellerSku": "SKU-1", "title": "Lamp"},
                }
            ],
            "packages": []
            if status == "CANCELLED"
            else [
                {
                    "packageReferenceId": "p1",
                    "shipTime": (delivered - timedelta(days=1)).isoformat(),
                    "packageStatus": {"status": "DELIVERED"},
                }
            ],
            "_delivered": delivered,
        }

    def count(self, operation: str) -> int:
        return sum(1 for op, _ in self.calls if op == operation)

    def window_open(self, order) -> bool:
        if order["fulfillment"]["fulfillmentStatus"] == "CANCELLED":
            return False
        now = datetime.now(UTC)
        return (
            order["_delivered"] + timedelta(days=5)
            <= now
            <= order["_delivered"] + timedelta(days=30)
        )


class Handler(BaseHTTPRequestHandler):
    server: FakeSPAPI

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: dict, rate: str = "1"):
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.send_header("x-amzn-RateLimit-Limit", rate)
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status, code, message):
        self._send(status, {"errors": [{"code": code, "message": message}]})

    def _authorized(self) -> bool:
        if self.headers.get("x-amz-access-token") != "fake-access-token":
            self._error(403, "Unauthorized", "Access to requested resource is denied.")
            return False
        return True

    def do_POST(self):
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if url.path == "/auth/o2/token":
            form = parse_qs(body.decode())
            if form.get("refresh_token", [""])[0] not in self.server.refresh_tokens:
                return self._send(
                    400, {"error": "invalid_grant", "error_description": "refresh token is invalid"}
                )
            return self._send(
                200,
                {
                    "access_token": "fake-access-token",
                    "token_type": "bearer",
                    "expires_in": 3600,
                    "refresh_token": "x",
                },
            )
        if not self._authorized():
            return None
        parts = url.path.strip("/").split("/")
        if parts[:4] == ["solicitations", "v1", "orders", parts[3]] and parts[-1] == REVIEW:
            return self._solicit(parts[3], parse_qs(url.query))
        return self._error(404, "NotFound", url.path)

    def _solicit(self, order_id, query):
        if not self.server.take_token():
            return self._error(
                429, "QuotaExceeded", "You exceeded your quota for the requested resource."
            )
        self.server.calls.append(("createProductReviewAndSellerFeedbackSolicitation", order_id))
        if "marketplaceIds" not in query:
            return self._error(400, "InvalidInput", "marketplaceIds is required")
        order = self.server.orders.get(order_id)
        if self.server.faults.get(order_id) == ["forbidden"]:
            # Amazon's answer when someone already requested a review, e.g. in Seller Central.
            return self._error(403, "Unauthorized", "Access to requested resource is denied.")
        with self.server.lock:
            if (
                order is None
                or self.server.solicited[order_id]
                or not self.server.window_open(order)
            ):
                return self._error(403, "Unauthorized", "Access to requested resource is denied.")
            self.server.solicited[order_id] += 1
        if self.server.faults.get(order_id) == ["timeout_after_commit"]:
            self.server.faults.pop(order_id)
            time.sleep(3)  # longer than the client's timeout: the request DID take effect
        return self._send(201, {})

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if not self._authorized():
            return None
        parts = url.path.strip("/").split("/")
        if url.path == "/orders/2026-01-01/orders":
            self.server.calls.append(("searchOrders", url.query))
            ids = sorted(self.server.orders)
            start = int(query.get("paginationToken", ["0"])[0])
            page = ids[start : start + self.server.page_size]
            body = {
                "orders": [
                    {k: v for k, v in self.server.orders[i].items() if k != "_delivered"}
                    for i in page
                ]
            }
            if start + self.server.page_size < len(ids):
                body["pagination"] = {"nextToken": str(start + self.server.page_size)}
            return self._send(200, body, rate="0.0056")
        if parts[:3] == ["solicitations", "v1", "orders"] and len(parts) == 4:
            self.server.calls.append(("getSolicitationActionsForOrder", parts[3]))
            order = self.server.orders.get(parts[3])
            offered = (
                order is not None
                and not self.server.solicited[parts[3]]
                and self.server.window_open(order)
            )
            actions = [{"href": "/x", "name": REVIEW}] if offered else []
            return self._send(
                200,
                {
                    "_links": {"actions": actions, "self": {"href": url.path}},
                    "_embedded": {"actions": []},
                },
            )
        return self._error(404, "NotFound", url.path)
