"""One token bucket per (account, operation) for the whole installation: four real
processes taking tokens from the same bucket, stored in the database (SQLite,
PostgreSQL) or in Redis (when the queue is Redis), never together exceed what one
bucket allows. The Amazon plugin's limiter on top of it still follows the rate header."""

from __future__ import annotations

import os
import time
import uuid

import pytest

from core import shared_buckets
from core.buckets import DatabaseBuckets, RedisBuckets
from core.config import settings_from_dict
from plugins.amazon.ratelimit import RateLimiter
from tests.conftest import base_config
from tests.support.processes import race

RATE, BURST = 10.0, 5
PROCESSES, TOKENS = 4, 10


def _take(cfg: dict, folder: str, ready, start, out) -> None:
    """One process: an engine on the installation's config, then ``TOKENS`` calls'
    worth of tokens from the Amazon limiter, each grant's wall-clock time reported."""
    from pathlib import Path

    from core.engine import Engine

    engine = Engine(settings_from_dict(cfg, Path(folder) / "config.toml"))
    limiter = RateLimiter({"op": (RATE, BURST)}, safety=1.0)
    ready.put(os.getpid())
    start.wait()
    times = []
    for _ in range(TOKENS):
        limiter.acquire(7, "op")
        times.append(time.time())
    engine.close()
    out.put(times)


def _race(cfg: dict, folder) -> tuple[float, list[float]]:
    run = race(_take, (cfg, str(folder)), PROCESSES, ready_timeout=120, answer_timeout=120)
    return run.began, sorted(t for times in run.answers for t in times)


def _assert_one_bucket(began: float, grants: list[float]) -> None:
    """Token-bucket conformance of all processes' grants together. Each time is taken
    just after the grant, so the grants seen by ``began + x`` all happened by then:
    never more than ``BURST`` + ``RATE`` × x of them (+1: the refill's fraction)."""
    assert len(grants) == PROCESSES * TOKENS
    for n, when in enumerate(grants, start=1):
        allowed = BURST + RATE * (when - began) + 1
        assert n <= allowed, f"grant {n} by +{when - began:.3f} s, one bucket allows {allowed:.1f}"
    # Four per-process buckets would have granted it all in ~(40 - 20) / 40 s.
    assert grants[-1] - began >= (PROCESSES * TOKENS - BURST - 1) / RATE


@pytest.mark.parametrize("backend", ["sqlite", "postgresql", "redis"])
def test_four_processes_share_one_bucket(request, tmp_path, backend):
    sections = {}
    if backend == "postgresql":
        sections["database"] = {"url": request.getfixturevalue("pg_url")}
    if backend == "redis":
        name = f"followup-test-{uuid.uuid4().hex[:8]}"
        url = request.getfixturevalue("redis_url")
        sections["queue"] = {"backend": "redis", "redis_url": url, "name": name}
    cfg = base_config(tmp_path, **sections)
    from core.engine import Engine

    engine = Engine(settings_from_dict(cfg, tmp_path / "config.toml"))
    engine.migrate()
    expected = RedisBuckets if backend == "redis" else DatabaseBuckets
    assert isinstance(shared_buckets(), expected)
    engine.close()
    _assert_one_bucket(*_race(cfg, tmp_path))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
def test_shared_bucket_follows_the_rate_header_and_a_429(request, make_engine, backend):
    """The header's rate and a 429's empty bucket are seen by every process: here a
    second limiter (another process's) on the same store."""
    sections = {}
    if backend == "redis":
        name = f"followup-test-{uuid.uuid4().hex[:8]}"
        sections["queue"] = {
            "backend": "redis",
            "redis_url": request.getfixturevalue("redis_url"),
            "name": name,
        }
    make_engine(**sections)
    one = RateLimiter({"op": (1.0, 2)}, safety=1.0)
    other = RateLimiter({"op": (1.0, 2)}, safety=1.0)
    assert one.acquire(1, "op") == 0.0 and other.acquire(1, "op") == 0.0
    assert other.refill_in(1, "op") == pytest.approx(1.0, abs=0.05)  # the burst is shared
    one.observe(1, "op", "4.0")  # Amazon raised the plan: every process refills faster
    assert other.refill_in(1, "op") == pytest.approx(0.25, abs=0.05)
    one.penalise(1, "op")  # a 429: nobody calls before a full interval
    assert other.refill_in(1, "op") == pytest.approx(0.25, abs=0.05)
    assert other.refill_in(2, "op") == 0.0  # another account's bucket is its own
