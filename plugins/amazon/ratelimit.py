"""One token bucket per (seller account, operation), at Amazon's documented rate, shared
by every worker process of the installation.

Each bucket starts from the usage-plan table below and then follows the
``x-amzn-RateLimit-Limit`` header Amazon returns (the library exposes it as
``ApiResponse.rate_limit``), so a seller with a raised plan gets the higher rate. Waiting
for a token happens *before* the call: throttling is avoided, not recovered from, and
throughput stays at the allowed rate rather than below it. Amazon keeps one bucket per
seller and operation whatever the number of our processes (docs/amazon-rules.md), so
the buckets live in core's shared store (Redis or the database, ``core.shared_buckets``),
never in one process's memory.
"""

from __future__ import annotations

import threading
import time

from core import MemoryBuckets, shared_buckets

# operation -> (requests per second, burst). Source: Amazon SP-API usage plans, as in
# docs/amazon-rules.md §2 and §4.
RATES: dict[str, tuple[float, int]] = {
    "getSolicitationActionsForOrder": (1.0, 5),
    "createProductReviewAndSellerFeedbackSolicitation": (1.0, 5),
    "getMessagingActionsForOrder": (1.0, 5),
    "getAttributes": (1.0, 5),
    "messaging": (1.0, 5),
    "searchOrders": (0.0056, 20),
    "getOrder": (0.5, 30),
    "getOrders": (0.0167, 20),
    "getOrderItems": (0.5, 30),
    "createReport": (0.0167, 15),
    "getReport": (2.0, 15),
    "getReportDocument": (0.0167, 15),
    "createUploadDestinationForResource": (10.0, 10),
    "getMarketplaceParticipations": (0.016, 15),
}


# Requests leave here exactly 1/rate apart but reach Amazon with network jitter, so a
# bucket refilling at exactly Amazon's rate gets the odd 429. 2% under it avoids that
# while keeping throughput at the allowed rate for practical purposes.
SAFETY = 0.98


class RateLimiter:
    """Buckets keyed by (account id, operation), in ``store`` (default: the
    installation's shared buckets; a private in-memory store when ``clock`` is given,
    for unit tests). Failure streaks (``note_failure``) stay per process: they only
    space out this process's own re-checks."""

    def __init__(
        self,
        rates: dict[str, tuple[float, int]] | None = None,
        clock=None,
        sleep=time.sleep,
        safety: float = SAFETY,
        store=None,
    ):
        self.safety = safety
        self.rates = dict(RATES if rates is None else rates)
        self._store = store if store is not None else (MemoryBuckets(clock) if clock else None)
        self._failures: dict[tuple[int, str], int] = {}
        self._lock = threading.Lock()
        self._sleep = sleep

    def _bucket(self, account_id: int, operation: str):
        """(store, key, rate, burst) of the account's bucket for the operation."""
        rate, burst = self.rates.get(operation, (1.0, 1))
        store = self._store or shared_buckets()
        return store, f"amazon:{account_id}:{operation}", rate * self.safety, burst

    def acquire(self, account_id: int, operation: str) -> float:
        """Take a token, waiting as long as needed; returns the seconds waited."""
        store, key, rate, burst = self._bucket(account_id, operation)
        waited = 0.0
        while True:
            need = store.take(key, rate, burst)
            if need <= 0:
                return waited
            # Another process may take the token first: then ask again after this wait.
            self._sleep(need)
            waited += need

    def observe(self, account_id: int, operation: str, header_rate: str | float | None) -> None:
        """Follow Amazon's ``x-amzn-RateLimit-Limit`` for this account and operation."""
        try:
            rate = float(header_rate) if header_rate not in (None, "") else None
        except (TypeError, ValueError):
            return
        if rate and rate > 0:
            store, key, _, burst = self._bucket(account_id, operation)
            store.set_rate(key, rate * self.safety, burst)

    def penalise(self, account_id: int, operation: str) -> None:
        """After a 429: empty the bucket so the next call waits a full interval."""
        store, key, rate, burst = self._bucket(account_id, operation)
        store.empty(key, rate, burst)

    def refill_in(self, account_id: int, operation: str) -> float:
        """Seconds until the bucket holds a token again (0 when it holds one now).

        After a 429 (``penalise``) this is one full interval at the rate Amazon's
        ``x-amzn-RateLimit-Limit`` header last gave: the earliest moment a retry can pass.
        """
        store, key, rate, burst = self._bucket(account_id, operation)
        return store.refill_in(key, rate, burst)

    def note_failure(self, account_id: int, operation: str) -> int:
        """Count a transient failure (429 used up, 5xx, timeout); returns the streak."""
        with self._lock:
            key = (account_id, operation)
            self._failures[key] = self._failures.get(key, 0) + 1
            return self._failures[key]

    def note_success(self, account_id: int, operation: str) -> None:
        """An answer came back: the next failure starts a new streak."""
        with self._lock:
            self._failures.pop((account_id, operation), None)
