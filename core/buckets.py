"""Token buckets shared by every process of an installation.

An API's rate limit belongs to the seller, not to a worker process: Amazon keeps one
bucket per selling partner and operation (docs/amazon-rules.md, "Rate limits"), so four
worker processes with a bucket each send four times the allowed rate and are answered
429. Here a bucket lives where every process sees it: in Redis when the queue is Redis
(one Lua script per operation, atomic on the server, timed by the server's clock), in
the application database otherwise (one short write transaction: ``BEGIN IMMEDIATE`` on
SQLite, a row lock on PostgreSQL). ``MemoryBuckets`` is the per-process fallback for
code that runs without an engine.

Every operation takes the bucket's ``key``, the ``rate`` (tokens per second) and
``burst`` (capacity) to create it with; once created, a bucket keeps the rate last set
by ``set_rate`` (what the API's own rate header said).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from .db import is_sqlite, write_transaction
from .models import RateBucket

# A bucket untouched this long is dropped from Redis: it would be full again anyway.
REDIS_TTL_SECONDS = 86_400


class Buckets(Protocol):
    def take(self, key: str, rate: float, burst: int) -> float:
        """Take a token: 0.0 when taken, else the seconds until one is there (none taken)."""

    def refill_in(self, key: str, rate: float, burst: int) -> float:
        """Seconds until the bucket holds a token (0.0: it holds one now)."""

    def empty(self, key: str, rate: float, burst: int) -> None:
        """Drop the bucket's tokens (after a 429: the server's bucket is empty)."""

    def set_rate(self, key: str, rate: float, burst: int) -> None:
        """Refill at ``rate`` from now on."""


def _step(op: str, tokens: float, stamp: float, rate: float, burst: int, now: float, new_rate):
    """One operation on a bucket's state: (tokens, rate, seconds to wait)."""
    tokens = min(float(burst), tokens + max(0.0, now - stamp) * rate)
    wait = 0.0
    if op == "take":
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / rate
    elif op == "empty":
        tokens = min(tokens, 0.0)
    elif op == "rate":
        rate = new_rate
    if op in ("peek", "empty") and tokens < 1:
        wait = (1 - tokens) / rate
    return tokens, rate, wait


class _Base:
    def _apply(self, op, key, rate, burst, new_rate=None) -> float:
        raise NotImplementedError

    def take(self, key: str, rate: float, burst: int) -> float:
        return self._apply("take", key, rate, burst)

    def refill_in(self, key: str, rate: float, burst: int) -> float:
        return self._apply("peek", key, rate, burst)

    def empty(self, key: str, rate: float, burst: int) -> None:
        self._apply("empty", key, rate, burst)

    def set_rate(self, key: str, rate: float, burst: int) -> None:
        self._apply("rate", key, rate, burst, rate)


class MemoryBuckets(_Base):
    """Buckets in this process only (tests, code running without an engine)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._state: dict[str, tuple[float, float, float]] = {}
        self._lock = threading.Lock()

    def _apply(self, op, key, rate, burst, new_rate=None) -> float:
        with self._lock:
            now = self._clock()
            tokens, stamp, current = self._state.get(key, (float(burst), now, rate))
            tokens, current, wait = _step(op, tokens, stamp, current, burst, now, new_rate)
            self._state[key] = (tokens, now, current)
            return wait


class DatabaseBuckets(_Base):
    """Buckets in the application database (table ``rate_bucket``), one row each.

    The clock is the processes' own wall clock: hosts sharing one database keep their
    clocks in step (NTP), as the claim leases already require.
    """

    @staticmethod
    def _row(key: str):
        query = RateBucket.select().where(RateBucket.name == key)
        if not is_sqlite():
            query = query.for_update()  # other processes wait for this one's commit
        return query.first()

    def _apply(self, op, key, rate, burst, new_rate=None) -> float:
        now = time.time()
        with write_transaction():
            row = self._row(key)
            if row is None:
                RateBucket.insert(
                    name=key, tokens=float(burst), stamp=now, rate=rate
                ).on_conflict_ignore().execute()
                row = self._row(key)
            tokens, current, wait = _step(op, row.tokens, row.stamp, row.rate, burst, now, new_rate)
            RateBucket.update(tokens=tokens, stamp=max(now, row.stamp), rate=current).where(
                RateBucket.name == key
            ).execute()
        return wait


# KEYS[1] the bucket; ARGV: rate to create it with, burst, operation, new rate.
_LUA = """
local rate_default = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local op = ARGV[3]
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local b = redis.call('HMGET', KEYS[1], 'tokens', 'stamp', 'rate')
local tokens = tonumber(b[1]) or burst
local stamp = tonumber(b[2]) or now
local rate = tonumber(b[3]) or rate_default
tokens = math.min(burst, tokens + math.max(0, now - stamp) * rate)
local wait = 0
if op == 'take' then
  if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
elseif op == 'empty' then
  tokens = math.min(tokens, 0)
elseif op == 'rate' then
  rate = tonumber(ARGV[4])
end
if (op == 'peek' or op == 'empty') and tokens < 1 then wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
           'stamp', string.format('%.17g', now), 'rate', string.format('%.17g', rate))
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[5]))
return string.format('%.17g', wait)
"""


class RedisBuckets(_Base):
    """Buckets in Redis (``<queue name>:bucket:<key>`` hashes), one Lua call each."""

    def __init__(self, url: str, prefix: str):
        import redis  # here, not at the top: start-up cost of redis (Redis installs only)

        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)
        self._prefix = prefix

    def _apply(self, op, key, rate, burst, new_rate=None) -> float:
        answer = self._script(
            keys=[f"{self._prefix}:bucket:{key}"],
            args=[repr(float(rate)), burst, op, repr(float(new_rate or rate)), REDIS_TTL_SECONDS],
        )
        return float(answer)


_shared: Buckets = MemoryBuckets()


def configure(settings) -> Buckets:
    """Bind the installation's buckets for this process (``Engine`` does, at start)."""
    global _shared
    queue = settings.section("queue")
    if queue["backend"] == "redis":
        _shared = RedisBuckets(queue["redis_url"], queue["name"])
    else:
        _shared = DatabaseBuckets()
    return _shared


def shared_buckets() -> Buckets:
    """The buckets every process of this installation shares (see ``configure``)."""
    return _shared
