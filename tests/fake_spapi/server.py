"""``FakeSPAPI``: a real HTTP server on 127.0.0.1 speaking enough SP-API for the plugin.

Public surface used by tests and the bench:

* context manager (serves on a daemon thread), ``.url``;
* ``add_order(order_id, ...)`` / ``seed(n)`` / ``touch(order_id, ...)`` and ``orders``;
* ``count(operation)`` and ``calls`` (``Call`` records: operation, order id, body, query);
* ``solicited`` (Counter of accepted Request a Review POSTs), ``messages`` (order id ->
  [(kind, body)] of accepted Messaging POSTs), ``uploads``, ``reports``;
* ``throttled`` (429s answered) and ``limits`` (operation -> (rate, burst));
  ``limits_per_seller``: False (default) keeps one token bucket per operation; True one
  per seller (access token) and operation, as Amazon does, so several seller accounts
  each get the operation's full rate;
* ``delays``: key -> seconds, a slow Amazon: a matching request is answered that long
  after its effect was recorded (keys ``"operation:order id"`` or ``"operation"``);
* ``in_flight``: Counter of ``"operation:order id"`` requests that were acted on and
  whose answer is being held (``timeout_after_commit`` or ``delays``), for tests that
  act while a send is on the wire;
* ``faults``: key -> list of fault names, consumed one per matching request. A key is
  ``"operation:order id"``, ``"operation"``, or (for writes only) ``"order id"``.
  Before the effect: ``forbidden`` (403), ``throttle`` (429), ``500`` (JSON errors),
  ``500_html`` (a non-JSON 500 page), ``503``. Shaping the answer: ``partial``,
  ``unknown_status``, ``missing_dates``. After the effect is recorded:
  ``timeout_after_commit`` (answers after ``hang_seconds``), ``500_after_commit``,
  ``malformed`` (truncated JSON), ``empty_body``;
* ``add_feedback(order_id, rating, ...)`` / ``feedback``: seller feedback, served by the
  Reports API as GET_SELLER_FEEDBACK_DATA;
* ``violations``: every request received and answer sent that breaks Amazon's models
  (``validate``; on when the models are beside the clone): leaving the context manager
  raises with them, so the test that caused one fails; a test that sends a bad request
  on purpose clears them. Answers broken on purpose (``BROKEN_ON_PURPOSE`` faults, an
  order's ``_fault``) are not checked. ``repeat_tokens``: paging answers hand back the
  token they were asked with (a looping Amazon);
* ``seller_marketplaces``: the marketplace ids the seller sells in (None: all);
* LWA: ``refresh_tokens``, ``revoke(token)``, ``clients`` (client id -> secret; a
  listed id with another secret gets ``invalid_client``, unlisted ids are accepted).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from . import auth, messaging, orders, reports, validate
from .http import Reply, Request, error
from .state import Call, State

log = logging.getLogger(__name__)

PRE_FAULTS = {"forbidden", "throttle", "500", "500_html", "503"}
SHAPE_FAULTS = {"partial", "unknown_status", "missing_dates"}
POST_FAULTS = {"timeout_after_commit", "500_after_commit", "malformed", "empty_body"}
# Faults whose whole point is an answer that breaks Amazon's model: not violations.
BROKEN_ON_PURPOSE = SHAPE_FAULTS | {"500_html", "malformed", "empty_body"}
# Solicitations and Messaging answer HAL (their models produce application/hal+json).
HAL_MODELS = {"solicitations.json", "messaging.json"}


@dataclass(frozen=True)
class Route:
    """One operation: the model's path template, method and operationId."""

    method: str
    template: str
    operation: str
    handler: Callable
    model: str | None  # file in shared/sp-api-models, None for non-SP-API endpoints
    auth: bool = True
    # What requests and answers are validated against (``validate``): the model file, or
    # "sellers" for the Sellers API, which is not among the shared models.
    checked_by: str | None = None

    @property
    def contract(self) -> str | None:
        return self.model or self.checked_by

    @property
    def regex(self) -> re.Pattern:
        pattern = re.sub(
            r"\{(\w+)\}",
            lambda m: (
                f"(?P<{m.group(1)}>.+)" if m.group(1) == "resource" else f"(?P<{m.group(1)}>[^/]+)"
            ),
            self.template,
        )
        return re.compile(f"^{pattern}$")


def _message_route(kind: str, spec: tuple) -> Route:
    def handler(fake, req, kind=kind):
        req.params["kind"] = kind
        return messaging.create_message(fake, req)

    return Route(
        "POST",
        "/messaging/v1/orders/{amazonOrderId}/messages/" + kind,
        spec[0],
        handler,
        "messaging.json",
    )


ROUTES: list[Route] = [
    Route("POST", "/auth/o2/token", "lwaToken", auth.token, None, auth=False),
    Route(
        "GET",
        "/orders/2026-01-01/orders",
        "searchOrders",
        orders.search_orders,
        "orders_2026-01-01.json",
    ),
    Route(
        "GET",
        "/orders/2026-01-01/orders/{orderId}",
        "getOrder",
        orders.get_order_2026,
        "orders_2026-01-01.json",
    ),
    Route("GET", "/orders/v0/orders", "getOrders", orders.get_orders_v0, "ordersV0.json"),
    Route("GET", "/orders/v0/orders/{orderId}", "getOrder", orders.get_order_v0, "ordersV0.json"),
    Route(
        "GET",
        "/orders/v0/orders/{orderId}/orderItems",
        "getOrderItems",
        orders.get_order_items_v0,
        "ordersV0.json",
    ),
    Route(
        "GET",
        "/solicitations/v1/orders/{amazonOrderId}",
        "getSolicitationActionsForOrder",
        messaging.solicitation_actions,
        "solicitations.json",
    ),
    Route(
        "POST",
        "/solicitations/v1/orders/{amazonOrderId}/solicitations/productReviewAndSellerFeedback",
        "createProductReviewAndSellerFeedbackSolicitation",
        messaging.create_solicitation,
        "solicitations.json",
    ),
    Route(
        "GET",
        "/messaging/v1/orders/{amazonOrderId}",
        "getMessagingActionsForOrder",
        messaging.messaging_actions,
        "messaging.json",
    ),
    Route(
        "GET",
        "/messaging/v1/orders/{amazonOrderId}/attributes",
        "GetAttributes",
        messaging.attributes,
        "messaging.json",
    ),
    *[_message_route(kind, spec) for kind, spec in messaging.MESSAGE_KINDS.items()],
    Route(
        "POST",
        "/uploads/2020-11-01/uploadDestinations/{resource}",
        "createUploadDestinationForResource",
        messaging.create_upload_destination,
        "uploads_2020-11-01.json",
    ),
    Route("PUT", "/upload/{destination}", "uploadPut", messaging.put_upload, None, auth=False),
    # Sellers API (not among the shared models): "test connection" and region checks.
    Route(
        "GET",
        "/sellers/v1/marketplaceParticipations",
        "getMarketplaceParticipations",
        orders.marketplace_participations,
        None,
        checked_by="sellers",
    ),
    Route(
        "POST",
        "/reports/2021-06-30/reports",
        "createReport",
        reports.create_report,
        "reports_2021-06-30.json",
    ),
    Route(
        "GET",
        "/reports/2021-06-30/reports/{reportId}",
        "getReport",
        reports.get_report,
        "reports_2021-06-30.json",
    ),
    Route(
        "GET",
        "/reports/2021-06-30/documents/{reportDocumentId}",
        "getReportDocument",
        reports.get_report_document,
        "reports_2021-06-30.json",
    ),
    Route(
        "GET",
        "/documents/{documentId}",
        "downloadReportDocument",
        reports.download,
        None,
        auth=False,
    ),
]
_COMPILED = [(r, r.regex) for r in ROUTES]


def match(method: str, path: str):
    """The route and path parameters for a request, or (None, {})."""
    for route, regex in _COMPILED:
        if route.method == method:
            m = regex.match(path)
            if m:
                return route, m.groupdict()
    return None, {}


class FakeSPAPI(ThreadingHTTPServer):
    """The fake SP-API server (see the module doc for what tests can set and read)."""

    daemon_threads = True

    def __init__(self, port: int = 0, host: str = "127.0.0.1"):
        super().__init__((host, port), Handler)
        self.state = State()
        self.lock = self.state.lock
        self.orders = self.state.orders
        self.calls = self.state.calls
        self.limits = self.state.limits
        self.refresh_tokens: set[str] = {"good-refresh-token"}
        self.revoked: set[str] = set()
        self.clients: dict[str, str] = {}
        self.solicited: Counter = Counter()
        self.messages: dict[str, list] = {}
        self.uploads: dict[str, dict] = {}
        self.reports: dict[str, dict] = {}
        self.documents: dict[str, str] = {}
        # Seller feedback buyers left (``add_feedback``), served as GET_SELLER_FEEDBACK_DATA.
        self.feedback: list[dict] = []
        self.cursors: dict[str, tuple] = {}
        self.faults: dict[str, list[str]] = {}
        self.limits_per_seller = False
        self.delays: dict[str, float] = {}
        self.in_flight: Counter = Counter()
        self.page_size = 2
        self.items_page_size = 100
        self.hang_seconds = 3.0
        self.report_polls = 1
        self.report_outcome = "DONE"
        self.report_gzip = False
        # A looping Amazon: paging answers hand back the token they were asked with.
        self.repeat_tokens = False
        self.token_repeats: Counter = Counter()
        self.denied = 0
        # Marketplace ids the seller sells in (None: all); other ids answer 400.
        self.seller_marketplaces: set[str] | None = None
        # Requests and answers that broke Amazon's models (``validate``); a test that
        # sends a bad request on purpose clears what it caused.
        self.violations: list[str] = []
        self.validating = validate.available()
        self._thread: threading.Thread | None = None

    # -- the Request a Review POST's usage plan, set directly by the rate benchmark ----

    @property
    def rate(self) -> float:
        return self.limits["createProductReviewAndSellerFeedbackSolicitation"][0]

    @property
    def burst(self) -> int:
        return self.limits["createProductReviewAndSellerFeedbackSolicitation"][1]

    @property
    def throttled(self) -> int:
        return self.state.throttled

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"

    def __enter__(self):
        self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, exc_type, *exc):
        self.shutdown()
        self.server_close()
        if exc_type is None and self.violations:
            raise AssertionError(
                f"the fake SP-API saw {len(self.violations)} violation(s) of Amazon's "
                "models:\n" + "\n".join(self.violations[:30])
            )

    def note_violations(self, where: str, problems: list[str]) -> None:
        """Record what broke Amazon's models (see ``validate``); the test fails at exit."""
        if problems:
            with self.lock:
                self.violations.extend(f"{where}: {p}" for p in problems)
                log.error("fake SP-API: %s violates the model: %s", where, problems)

    def handle_error(self, request, client_address):
        pass  # a client that timed out and hung up is part of the tests, not an error

    # -- seeding -----------------------------------------------------------------------

    def add_order(self, order_id: str, **kwargs) -> dict:
        """Add (or replace) an order; see ``orders.make_order`` for the options."""
        record = orders.make_order(order_id, **kwargs)
        with self.lock:
            self.orders[order_id] = record
        return record

    def seed(self, count: int, **kwargs) -> list[str]:
        """Add ``count`` varied orders; returns their ids."""
        return orders.seed(self, count, **kwargs)

    def touch(self, order_id: str, **changes) -> None:
        """Change an order and bump its lastUpdatedTime, as Amazon does."""
        with self.lock:
            orders.touch(self.orders[order_id], **changes)

    def add_feedback(
        self,
        order_id: str,
        rating: int,
        *,
        days_ago: float = 1,
        comments: str = "",
        response: str = "",
        marketplace_id: str | None = None,
    ) -> dict:
        """Seller feedback on an order (its marketplace unless ``marketplace_id``)."""
        market = marketplace_id or self.orders[order_id]["marketplaceId"]
        entry = {
            "order_id": order_id,
            "rating": rating,
            "date": datetime.now(UTC) - timedelta(days=days_ago),
            "comments": comments,
            "response": response,
            "marketplace_id": market,
        }
        with self.lock:
            self.feedback.append(entry)
        return entry

    def revoke(self, refresh_token: str) -> None:
        """The seller removed the app's authorization: the refresh grant fails."""
        self.revoked.add(refresh_token)

    # -- reading what happened ---------------------------------------------------------

    def count(self, operation: str) -> int:
        """How many requests of ``operation`` passed the rate limit."""
        with self.lock:
            return sum(1 for c in self.calls if c.operation == operation)

    def calls_of(self, operation: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.operation == operation]

    def delay_for(self, operation: str, order_id: str) -> float:
        """Seconds to hold the answer of a request (``delays``), 0 for none."""
        with self.lock:
            return self.delays.get(f"{operation}:{order_id}", self.delays.get(operation, 0.0))

    # -- faults ------------------------------------------------------------------------

    def take_fault(self, operation: str, order_id: str, write: bool) -> str | None:
        keys = [f"{operation}:{order_id}", operation] + ([order_id] if write and order_id else [])
        with self.lock:
            for key in keys:
                queue = self.faults.get(key)
                if queue:
                    fault = queue.pop(0)
                    if not queue:
                        self.faults.pop(key, None)
                    return fault
        return None


class Handler(BaseHTTPRequestHandler):
    server: FakeSPAPI
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        log.debug("fake SP-API: " + format, *args)

    def _send(self, reply: Reply, operation: str | None = None) -> None:
        data = reply.payload()
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(data)))
        if operation:
            rate = self.server.limits.get(operation, (1.0, 5))[0]
            self.send_header("x-amzn-RateLimit-Limit", str(rate))
        self.send_header("x-amzn-RequestId", f"fake-{time.monotonic_ns()}")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            pass  # the client gave up (timeout tests)

    def _handle(self) -> None:
        fake = self.server
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        route, params = match(self.command, url.path)
        if route is None:
            self._send(error(404, "NotFound", f"{self.command} {url.path}"))
            return
        contract = route.contract if fake.validating else None
        req = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            raw=raw,
            params=params,
            operation=route.operation,
        )
        where = f"{route.operation} {self.command} {url.path}"
        if contract:
            fake.note_violations(where, validate.request_problems(contract, route.template, req))

        def answer(reply: Reply, fault: str | None = None) -> None:
            if route.model in HAL_MODELS and reply.content_type == "application/json":
                reply.content_type = "application/hal+json"
            if contract and fault not in BROKEN_ON_PURPOSE and not reply.broken:
                problems = validate.answer_problems(contract, route.template, self.command, reply)
                fake.note_violations(where, problems)
            self._send(reply, route.operation if route.auth else None)

        if route.auth and not auth.authorized(fake, req):
            fake.denied += 1
            answer(error(403, "Unauthorized", messaging.UNAUTHORIZED))
            return
        seller = req.headers.get("x-amz-access-token", "") if fake.limits_per_seller else ""
        if route.auth and not fake.state.admit(route.operation, seller):
            answer(quota_exceeded())
            return
        order_id = orders.order_id_of(req)
        write = self.command in ("POST", "PUT", "PATCH") and route.auth
        fault = fake.take_fault(route.operation, order_id, write) if route.auth else None
        if fault == "throttle":  # a 429 like the rate limit's: not a call Amazon acted on
            with fake.lock:
                fake.state.throttled += 1
            answer(quota_exceeded())
            return
        body = None
        if raw and route.auth:
            try:
                body = req.json()
            except ValueError:
                body = raw
        if route.operation != "lwaToken":
            fake.state.record(
                Call(route.operation, order_id, body, req.query, self.command, url.path)
            )
        if fault in PRE_FAULTS:
            answer(_pre_fault(fault), fault)
            return
        if fault in SHAPE_FAULTS:
            req.fault = fault
        reply = route.handler(fake, req)
        hold = fake.hang_seconds if fault == "timeout_after_commit" else 0.0
        if route.auth:
            hold = hold or fake.delay_for(route.operation, order_id)
        if hold:
            # timeout_after_commit: longer than the client waits, it DID take effect;
            # delays: a slow answer to a request that took effect.
            key = f"{route.operation}:{order_id}"
            with fake.lock:
                fake.in_flight[key] += 1
            try:
                time.sleep(hold)
            finally:
                with fake.lock:
                    fake.in_flight[key] -= 1
                    if fake.in_flight[key] <= 0:
                        del fake.in_flight[key]
        if fault == "500_after_commit":
            reply = error(500, "InternalFailure", "We encountered an internal error.")
        elif fault == "malformed":
            reply = Reply(reply.status, raw=reply.payload()[: max(1, len(reply.payload()) // 2)])
        elif fault == "empty_body":
            reply = Reply(reply.status, raw=b"")
        answer(reply, fault)

    do_GET = do_POST = do_PUT = _handle


def quota_exceeded() -> Reply:
    """Amazon's 429, for an empty token bucket or the ``throttle`` fault."""
    return error(429, "QuotaExceeded", "You exceeded your quota for the requested resource.")


def _pre_fault(fault: str) -> Reply:
    """The answer to a fault that stops the request before its effect (``throttle`` is
    answered earlier: a 429 is not recorded as a call)."""
    if fault == "forbidden":
        return error(403, "Unauthorized", messaging.UNAUTHORIZED)
    if fault == "500":
        return error(500, "InternalFailure", "We encountered an internal error.")
    if fault == "503":
        return error(503, "ServiceUnavailable", "Service temporarily unavailable.")
    return Reply(
        500,
        raw=b"<html><body><h1>500 Internal Server Error</h1></body></html>",
        content_type="text/html",
    )
