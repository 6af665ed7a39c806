"""A plugin for worker-process tests: a job due every second that appends when and in
which process it ran to the file named by ``FOLLOWUP_TICK_PROBE``. Jobs run in the
installation's tick, so its lines are the ticks that ran (``core.tasks``)."""

from __future__ import annotations

import os
import time

from core import Job, hookimpl


def _run(engine) -> None:
    with open(os.environ["FOLLOWUP_TICK_PROBE"], "a") as out:
        out.write(f"{time.time():.3f} {os.getpid()}\n")


@hookimpl
def register_jobs(engine):
    return [Job("tick_probe", 1, _run)]
