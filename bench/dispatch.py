"""Dispatcher overhead per message: claim, re-check, compose, record (dry-run sender).

The dry-run sender does no I/O, so the time per message is the dispatcher's own cost
(target: under 5 ms on PostgreSQL + Redis, so senders run at their API's allowed rate),
and the SQL statements per message say how much of it is round trips. Each database
is measured with one worker process and with four (``BENCH_DISPATCH_WORKERS``) draining
the same messages at once (target on PostgreSQL: four ≥ 3× one).

``BENCH_DISPATCH`` messages (2,000) per run; ``BENCH_DISPATCH_DBS`` picks the
databases (``sqlite,postgresql``; PostgreSQL needs the server on 127.0.0.1:5432).

Wall time depends on the machine's load; each worker's CPU time (``process_time``) and
the time it spent inside the database driver (a round trip: waiting on the server) per
message do much less, so both are reported too, with the load average and the
statements per message by kind (``SELECT message``, ``UPDATE message``, ...).
``BENCH_DISPATCH_PROFILE=FILE`` writes a cProfile of each one-worker run to FILE.<db>.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from tests.support.processes import race

from .data import add_campaigns, fill_orders, make_engine

CONTROL = ("BEGIN", "COMMIT", "ROLLBACK")
PG_ADMIN = dict(host="127.0.0.1", port=5432, user="postgres", dbname="postgres")
REDIS_URL = "redis://127.0.0.1:6379/14"


def _sections(kind: str, folder: Path, pg_name: str) -> dict:
    if kind == "sqlite":
        return {}
    return {
        "database": {"url": f"postgresql://postgres@127.0.0.1:5432/{pg_name}"},
        "queue": {"backend": "redis", "redis_url": REDIS_URL, "name": f"bench-{pg_name}"},
    }


def _prepare(count: int, folder: Path, sections: dict) -> None:
    from core.models import Order, Step, Template, TemplateVariant, TemplateVersion
    from core.planning import plan_orders

    engine = make_engine(folder, **sections)
    fill_orders(count)
    (step,) = add_campaigns(1)
    # A real text message, so the figure includes rendering and the compliance linter.
    template = Template.create(name="Manual", channel="messaging", message_type="x")
    version = TemplateVersion.create(template=template, number=1)
    TemplateVariant.create(
        version=version,
        language="en",
        body=(
            "Hello, thank you for your order {{ order_id }} of {{ product_title }}.\n"
            "Here is how to set it up: unpack it, charge it for two hours, then hold the "
            "power button for three seconds.\n{{ contact_instruction }}"
        ),
    )
    Step.update(template=template, message_type="product_instructions").where(
        Step.id == step.id
    ).execute()
    plan_orders(engine, [o.id for o in Order.select(Order.id)])
    engine.close()


_TABLE = re.compile(r'\b(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


def _kind(sql: str) -> str:
    """``SELECT message``, ``UPDATE message``, ``SET``, ...: verb and first table."""
    first, _, rest = sql.partition("; ")
    if rest and first.upper().startswith("SET LOCAL"):
        return f"{_kind(rest)} (+SET LOCAL)"  # one round trip: core.db.returning_lazily
    verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
    table = _TABLE.search(sql)
    return f"{verb} {table.group(1)}" if table and verb != "SET" else verb


def _counting(call, kind: str, kinds, in_db):
    def counted(*args, **kwargs):
        kinds[kind] += 1
        began = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            in_db[0] += time.perf_counter() - began

    return counted


def _drain(folder: str, sections: dict, profile: str, ready, start, done) -> None:
    """One worker process: wait for the start signal, dispatch until nothing is due."""
    import logging

    from core.db import database
    from core.dispatch import dispatch_due

    logging.basicConfig(level="WARNING")
    engine = make_engine(Path(folder), **sections)
    kinds: collections.Counter = collections.Counter()
    in_db = [0.0]
    execute = database.obj.execute_sql

    def counted(sql, params=None, *args, **kwargs):
        kinds[_kind(sql)] += 1
        began = time.perf_counter()
        try:
            return execute(sql, params, *args, **kwargs)
        finally:
            in_db[0] += time.perf_counter() - began

    database.obj.execute_sql = counted
    db = database.obj
    for name in ("begin", "commit", "rollback"):
        # BEGIN, COMMIT and ROLLBACK bypass execute_sql; round trips count them too.
        setattr(db, name, _counting(getattr(db, name), name.upper(), kinds, in_db))
    ready.put(os.getpid())
    start.wait()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    began, cpu = time.perf_counter(), time.process_time()
    result = dispatch_due(engine, limit=100)
    elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    engine.close()
    done.put((result.claimed, result.states.get("sent", 0), dict(kinds), elapsed, cpu, in_db[0]))


def _run(kind: str, count: int, workers: int, profile: str = "") -> dict:
    folder = Path(tempfile.mkdtemp(prefix="followup-bench-dispatch-"))
    pg_name = f"followup_bench_{uuid.uuid4().hex[:10]}"
    admin = None
    if kind == "postgresql":
        import psycopg2

        admin = psycopg2.connect(**PG_ADMIN)
        admin.autocommit = True
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{pg_name}"')
    sections = _sections(kind, folder, pg_name)
    try:
        _prepare(count, folder, sections)
        load = os.getloadavg()[0]
        run = race(_drain, (str(folder), sections, profile), workers, answer_timeout=1800)
        answers, wall = run.answers, run.seconds
    finally:
        if admin is not None:
            with admin.cursor() as cur:
                cur.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (pg_name,),
                )
                cur.execute(f'DROP DATABASE IF EXISTS "{pg_name}"')
            admin.close()
        shutil.rmtree(folder, True)
    claimed = sum(a[0] for a in answers)
    per = max(1, claimed)
    kinds: collections.Counter = collections.Counter()
    for answer in answers:
        kinds.update(answer[2])
    return {
        "messages": claimed,
        "sent": sum(a[1] for a in answers),
        "seconds": round(wall, 3),
        "load_average_1min": round(load, 2),
        "ms_per_message": round(1000 * wall / per, 3),
        # Summed over the workers: what one message costs the machine, whatever the load.
        "cpu_ms_per_message": round(1000 * sum(a[4] for a in answers) / per, 3),
        "db_wait_ms_per_message": round(1000 * sum(a[5] for a in answers) / per, 3),
        # Statements through execute_sql (the figure quoted before), then every round
        # trip: those plus BEGIN, COMMIT and ROLLBACK.
        "statements_per_message": round(
            sum(v for k, v in kinds.items() if k not in CONTROL) / per, 2
        ),
        "round_trips_per_message": round(sum(kinds.values()) / per, 2),
        "statements_by_kind": {k: round(v / per, 3) for k, v in kinds.most_common()},
    }


def run() -> dict:
    count = int(os.environ.get("BENCH_DISPATCH", 2_000))
    many = int(os.environ.get("BENCH_DISPATCH_WORKERS", 4))
    kinds = os.environ.get("BENCH_DISPATCH_DBS", "sqlite,postgresql").split(",")
    figures: dict = {}
    for kind in kinds:
        profile = os.environ.get("BENCH_DISPATCH_PROFILE", "")
        one = _run(kind, count, 1, profile and f"{profile}.{kind}")
        several = _run(kind, count, many)
        figures[kind] = {
            "1_worker": one,
            f"{many}_workers": several,
            f"{many}_over_1": round(one["seconds"] / max(1e-9, several["seconds"]), 2),
        }
    figures["targets"] = {
        "postgresql_ms_per_message": "< 5 (1 worker)",
        f"postgresql_{many}_over_1": ">= 3",
    }
    return figures
