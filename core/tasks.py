"""Background tasks. Thin on purpose: each takes ids and calls into the core.

``Runtime`` binds one engine and one huey instance in a process (web, worker, CLI or
test) and defines the tasks on that huey. A periodic ``tick`` runs every minute: it
dispatches due messages and runs plugin jobs whose interval has passed, so work that a
hard kill dropped from the queue is picked up again without anyone noticing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from huey import crontab

from . import heartbeat
from .blocklist import expire_blocklist
from .campaigns import run_pending_replans
from .clock import utcnow
from .dispatch import dispatch_due
from .ingest import ingest_from_source
from .planning import plan_all, plan_orders

log = logging.getLogger(__name__)


class Runtime:
    """One engine + one huey + the tasks defined on it."""

    def __init__(self, engine, huey):
        self.engine = engine
        self.huey = huey
        self._last_job_run: dict[str, object] = {}
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

        @huey.task(name="followup.plan_orders")
        def plan_task(order_ids: list[int]) -> dict:
            return plan_orders(engine, order_ids).__dict__

        @huey.task(name="followup.plan_all")
        def plan_all_task() -> dict:
            return plan_all(engine).__dict__

        @huey.task(name="followup.dispatch")
        def dispatch_task() -> dict:
            return dispatch_due(engine).states

        @huey.periodic_task(crontab(minute="*"), name="followup.tick")
        def tick() -> None:
            self.run_tick()

        self.sync_account = sync_task
        self.plan_orders = plan_task
        self.plan_all = plan_all_task
        self.dispatch = dispatch_task
        self.tick = tick

    def sync_due_accounts(self) -> int:
        """Sync (and plan) every live account not synced for ``[sync] interval_minutes``."""
        from .models import SellerAccount

        every = timedelta(minutes=self.engine.settings.get("sync", "interval_minutes"))
        count = 0
        for account in SellerAccount.select().where(~SellerAccount.is_demo):
            source = self.engine.sources.get(account.source)
            if source is None or source.fetch is None or account.status == "syncing":
                continue
            if account.last_sync_at and utcnow() - account.last_sync_at < every:
                continue
            ingest_from_source(self.engine, account.id)
            count += 1
        return count

    def run_tick(self) -> None:
        """Sync accounts whose interval passed, end expired blocklist entries, re-plan
        campaigns whose large edit asked for it, dispatch due messages, run plugin jobs."""
        heartbeat.beat()
        self.sync_due_accounts()
        expire_blocklist(self.engine)
        run_pending_replans(self.engine)
        dispatch_due(self.engine)
        now = utcnow()
        for job in self.engine.jobs.values():
            last = self._last_job_run.get(job.name)
            if last is not None and now - last < timedelta(seconds=job.every_seconds):
                continue
            self._last_job_run[job.name] = now
            try:
                job.run(self.engine)
            except Exception:  # noqa: BLE001 - one plugin's job must not stop the tick
                log.exception("job %s failed", job.name)
