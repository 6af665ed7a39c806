"""Background tasks. Thin on purpose: each takes ids and calls into the core.

``EngineQueue`` binds one engine and one huey instance in a process (web, worker, CLI or
test) and defines the tasks on that huey. A periodic ``tick`` runs every minute: it
dispatches due messages and runs plugin jobs whose interval has passed, so work that a
hard kill dropped from the queue is picked up again without anyone noticing.

Every worker process's scheduler enqueues the tick, so with several processes several
ticks arrive each minute. Their installation-wide part (queueing order syncs, re-plans,
plugin jobs) runs once per minute: the first tick of the minute takes the ``tick``
lease (``core.leases``), each job its own lease for its interval, each sync its
account's lease. Their dispatch part runs in every tick: claims are fenced, so passes
in several processes share the due messages, and each pass drains for up to
``PASS_SECONDS``, until about when that process's next tick starts the next one.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from huey import crontab

from . import heartbeat, leases
from .blocklist import expire_blocklist
from .campaigns import run_pending_replans
from .clock import utcnow
from .dispatch import dispatch_due, worker_id
from .ingest import ingest_from_source
from .models import SellerAccount
from .planning import plan_all, plan_orders
from .sync import sync_running

log = logging.getLogger(__name__)

TICK_SECONDS = 60  # the tick's crontab below: every minute
# A tick's dispatch pass ends a little before the same process's next tick arrives.
PASS_SECONDS = 55.0


class EngineQueue:
    """One engine, the huey queue its tasks go through, and those tasks defined on it."""

    tick_seconds = TICK_SECONDS

    def __init__(self, engine, huey):
        self.engine = engine
        self.huey = huey
        self.owner = worker_id()
        self._define()

    def _define(self) -> None:
        huey, engine = self.huey, self.engine

        @huey.task(name="followup.sync_account")
        def sync_task(account_id: int) -> dict:
            result = ingest_from_source(engine, account_id).stored
            return {
                "created": result.created,
                "updated": result.updated,
                "errors": len(result.errors),
            }

        @huey.task(name="followup.sync_if_due")
        def sync_if_due_task(account_id: int) -> bool:
            return self.sync_if_due(account_id)

        @huey.task(name="followup.plan_orders")
        def plan_task(order_ids: list[int]) -> dict:
            return plan_orders(engine, order_ids).__dict__

        @huey.task(name="followup.plan_all")
        def plan_all_task() -> dict:
            return plan_all(engine).__dict__

        @huey.task(name="followup.dispatch")
        def dispatch_task() -> dict:
            return dispatch_due(engine, budget_seconds=PASS_SECONDS).states

        @huey.periodic_task(crontab(minute="*"), name="followup.tick")
        def tick() -> None:
            self.run_tick()

        self.sync_account = sync_task
        self.sync_if_due_task = sync_if_due_task
        self.plan_orders = plan_task
        self.plan_all = plan_all_task
        self.dispatch = dispatch_task
        self.tick = tick

    def _due(self, account) -> bool:
        every = timedelta(minutes=self.engine.settings.get("sync", "interval_minutes"))
        source = self.engine.sources.get(account.source)
        if source is None or source.fetch is None or account.is_demo:
            return False
        return not account.last_sync_at or utcnow() - account.last_sync_at >= every

    def sync_if_due(self, account_id: int) -> bool:
        """Sync (and plan) the account if ``[sync] interval_minutes`` passed since its
        last sync and no sync of it runs; True when it was synced."""
        account = SellerAccount.get_or_none(SellerAccount.id == account_id)
        if account is None or not self._due(account) or sync_running(account.id):
            return False
        ingest_from_source(self.engine, account.id)
        return True

    def sync_due_accounts(self) -> int:
        """Queue a sync of every live account not synced for ``[sync] interval_minutes``
        (a task each: a slow account does not hold up the tick); returns how many."""
        count = 0
        for account in SellerAccount.select().where(~SellerAccount.is_demo):
            if self._due(account) and not sync_running(account.id):
                self.sync_if_due_task(account.id)
                count += 1
        return count

    def run_tick(self) -> None:
        """The minute's tick: its installation-wide part if this is the minute's first
        tick (``run_installation_tick``), then a dispatch pass in this process."""
        heartbeat.beat()
        if leases.acquire("tick", self.owner, leases.slot_end(self.tick_seconds)):
            log.info("tick: this process runs the installation's tick")
            self.run_installation_tick()
        dispatch_due(self.engine, budget_seconds=PASS_SECONDS)

    def run_installation_tick(self) -> None:
        """Sync accounts whose interval passed, end expired blocklist entries, re-plan
        campaigns whose large edit asked for it, run plugin jobs whose interval passed
        (each once in the installation)."""
        self.sync_due_accounts()
        expire_blocklist(self.engine)
        run_pending_replans(self.engine)
        now = utcnow()
        for job in self.engine.jobs.values():
            until = now + timedelta(seconds=job.every_seconds)
            if not leases.acquire(f"job:{job.name}", self.owner, until):
                continue
            try:
                job.run(self.engine)
            except Exception:  # noqa: BLE001 - one plugin's job must not stop the tick
                log.exception("job %s failed", job.name)
