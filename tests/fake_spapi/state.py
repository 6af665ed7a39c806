"""The fake's memory: orders, token buckets, the call log and the fault plan.

Everything here is guarded by one lock because ``ThreadingHTTPServer`` answers each
request on its own thread and tests read the log while a worker is still calling.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

# operation -> (requests per second, burst): Amazon's default usage plans, as Amazon's
# models print them and docs/amazon-rules.md §2.1, §2.2 and §4 record them.
USAGE_PLANS: dict[str, tuple[float, int]] = {
    "getSolicitationActionsForOrder": (1.0, 5),
    "createProductReviewAndSellerFeedbackSolicitation": (1.0, 5),
    "getMessagingActionsForOrder": (1.0, 5),
    "GetAttributes": (1.0, 5),
    "confirmCustomizationDetails": (1.0, 5),
    "createConfirmDeliveryDetails": (1.0, 5),
    "createConfirmOrderDetails": (1.0, 5),
    "createConfirmServiceDetails": (1.0, 5),
    "createUnexpectedProblem": (1.0, 5),
    "createDigitalAccessKey": (1.0, 5),
    "CreateWarranty": (1.0, 5),
    "createLegalDisclosure": (1.0, 5),
    "sendInvoice": (1.0, 5),
    "searchOrders": (0.0056, 20),
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "createUploadDestinationForResource": (10.0, 10),
    "getMarketplaceParticipations": (0.016, 15),
}


@dataclass
class Bucket:
    """Amazon's token bucket: ``burst`` tokens, refilled at ``rate`` per second."""

    rate: float
    burst: int
    tokens: float
    stamp: float = field(default_factory=time.monotonic)

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass(frozen=True)
class Call:
    """One request that got past the rate limit: what the client really sent."""

    operation: str
    order_id: str = ""
    body: Any = None
    query: dict = field(default_factory=dict)
    method: str = "GET"
    path: str = ""


class State:
    """Shared state of one fake server (see ``FakeSPAPI`` for the public surface)."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.orders: dict[str, dict] = {}
        self.calls: list[Call] = []
        self.limits: dict[str, tuple[float, int]] = dict(USAGE_PLANS)
        self._buckets: dict[str | tuple[str, str], Bucket] = {}
        self.throttled = 0

    def bucket(self, operation: str, seller: str = "") -> Bucket:
        """The operation's bucket; ``seller`` (when the fake keeps buckets per seller)
        keys one bucket per seller and operation, as Amazon's usage plans do."""
        rate, burst = self.limits.get(operation, (1.0, 5))
        key = (seller, operation) if seller else operation
        bucket = self._buckets.get(key)
        if bucket is None or (bucket.rate, bucket.burst) != (rate, burst):
            bucket = Bucket(rate, burst, float(burst))
            self._buckets[key] = bucket
        return bucket

    def admit(self, operation: str, seller: str = "") -> bool:
        """Take a token of the operation's bucket; count a 429 when there is none."""
        with self.lock:
            if self.bucket(operation, seller).take():
                return True
            self.throttled += 1
            return False

    def record(self, call: Call) -> None:
        with self.lock:
            self.calls.append(call)
