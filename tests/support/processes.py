"""Several spawned processes released at the same instant: the races the benches and
the cross-process tests measure (shared rate buckets, workers draining one database)."""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Race:
    began: float  # time.time() at the release: comparable with the processes' own clocks
    seconds: float  # from the release to the last answer
    answers: list  # one per process, in the order they arrived


def race(
    target: Callable,
    args: tuple,
    processes: int,
    *,
    ready_timeout: float = 600,
    answer_timeout: float = 3600,
) -> Race:
    """Run ``target(*args, ready, start, done)`` in ``processes`` spawned processes.

    Each builds what it needs (an engine, a connection), puts anything on ``ready`` and
    waits for ``start``; all are released together and each puts one answer on ``done``.
    Building an engine takes longer than the work raced for, so without the shared start
    the first process would run alone.
    """
    ctx = multiprocessing.get_context("spawn")
    ready, start, done = ctx.Queue(), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, ready, start, done)) for _ in range(processes)]
    for proc in procs:
        proc.start()
    for _ in procs:
        ready.get(timeout=ready_timeout)
    began, clock = time.time(), time.perf_counter()
    start.set()
    answers = [done.get(timeout=answer_timeout) for _ in procs]
    seconds = time.perf_counter() - clock
    for proc in procs:
        proc.join(timeout=60)
    return Race(began, seconds, answers)
