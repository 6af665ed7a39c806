"""Order sync: ask an account's order source for changes and store them.

The cursor (``SellerAccount.sync_cursor``) only advances when everything up to it has
been stored, so a crash mid-sync re-reads from the old cursor and storing is idempotent.
The next read starts ``[sync] overlap_minutes`` before the cursor because order sources
(Amazon's included) make updates visible with a delay.

One sync per account at a time, installation-wide: a sync holds the lease
``sync:<account id>`` (``core.leases``), renewed with each progress report. A second
sync of the same account (another worker process, a "Sync now" click) finds it taken
and does nothing: two at once would spend the account's order-search quota twice.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from . import leases
from .accounts import requeue_account_messages
from .clock import utcnow
from .default_windows import with_delivery_window
from .dispatch import worker_id
from .models import SellerAccount
from .plain_errors import plain_exception
from .store import StoreResult, store_orders

log = logging.getLogger(__name__)

CHUNK = 2000  # orders between two progress reports
# A sync reports progress at least every CHUNK orders; a lease not renewed for this long
# belongs to a worker that stopped, and the account may be synced again.
SYNC_LEASE = timedelta(minutes=10)


class SyncError(Exception):
    """A sync failed for a reason the seller must act on (credentials, region...)."""


def _progress(account: SellerAccount, owner: str):
    def report(done: int, total: int | None = None, text: str = "") -> None:
        leases.renew(_lease_name(account.id), owner, utcnow() + SYNC_LEASE)
        SellerAccount.update(sync_progress={"done": done, "total": total, "text": text}).where(
            SellerAccount.id == account.id
        ).execute()

    return report


# A sync waiting for a worker: ``queue_sync`` (core.services) writes this progress text
# with the time it was queued.
QUEUED = "queued"
# A queued sync that no worker picked up in this long is not waited on any more: the
# Accounts page stops polling and asks whether the worker runs (it starts a queued
# sync within seconds).
QUEUE_PATIENCE = timedelta(minutes=15)


def sync_in_progress(account: SellerAccount) -> bool:
    """Whether the account's sync is queued or running (its progress bar keeps polling).

    A sync queued long ago that no worker picked up is not in progress: it is stale
    (``sync_queue_is_stale``), and the page says so instead of waiting for ever.
    """
    progress = account.sync_progress or {}
    return account.status == "syncing" or (
        progress.get("text") == QUEUED and not sync_queue_is_stale(account)
    )


def sync_queue_is_stale(account: SellerAccount) -> bool:
    """Whether the account's sync has waited in the queue longer than ``QUEUE_PATIENCE``
    (a queue entry without a readable time counts as stale)."""
    progress = account.sync_progress or {}
    if progress.get("text") != QUEUED or account.status == "syncing":
        return False
    try:
        queued = datetime.fromisoformat(progress.get("queued_at", ""))
    except (TypeError, ValueError):
        return True
    return utcnow() - queued > QUEUE_PATIENCE


def _lease_name(account_id: int) -> str:
    return f"sync:{account_id}"


def sync_running(account_id: int) -> bool:
    """Whether a sync of the account holds its lease now (in any process)."""
    return leases.held(_lease_name(account_id))


def sync_account(engine, account_id: int, *, full: bool = False, on_changed=None) -> StoreResult:
    """Fetch and store an account's changed orders; errors mark the account, never raise.

    Orders stream from the source into ``store_orders`` a batch at a time; with
    ``on_changed(ids)`` (planning) each batch's changed orders go there as it is stored
    and ``changed_ids`` stays empty, so a whole account is never held in memory.
    Does nothing (an empty result) while another sync of the account runs."""
    owner = worker_id()
    name = _lease_name(account_id)
    if not leases.acquire(name, owner, utcnow() + SYNC_LEASE):
        log.info("account %s: a sync is already running; this one is not started", account_id)
        return StoreResult()
    try:
        return _sync(engine, account_id, full, owner, on_changed)
    finally:
        leases.release(name, owner)


def _sync(engine, account_id: int, full: bool, owner: str, on_changed) -> StoreResult:
    account = SellerAccount.get_by_id(account_id)
    source = engine.sources.get(account.source)
    result = StoreResult()
    if source is None or source.fetch is None:
        _mark(account, "error", f"order source {account.source!r} is not enabled")
        return result
    started = utcnow()
    overlap = timedelta(minutes=engine.settings.get("sync", "overlap_minutes"))
    since = None if full or account.sync_cursor is None else account.sync_cursor - overlap
    _mark(account, "syncing", "sync running")
    report = _progress(account, owner)
    report(0, None, "starting")
    known = set(engine.marketplaces)
    failures: list[Exception] = []

    def read():
        # Orders read before a fetch failure are good: they are stored (storing is
        # idempotent and the cursor stays put), so one unreadable order cannot hold
        # back the rest. The failure is kept and reported once storing is done.
        count = 0
        try:
            for data in source.fetch(engine, account, since, report):
                yield with_delivery_window(data)  # a report gives no delivery dates
                count += 1
                if count % CHUNK == 0:
                    report(count, None, "storing")
        except Exception as exc:  # noqa: BLE001 - the account shows the error
            failures.append(exc)

    try:
        result = store_orders(account, read(), account.source, known, on_changed=on_changed)
    except Exception as exc:  # noqa: BLE001 - the account shows the error, the worker goes on
        log.exception("storing the orders of account %s failed", account.name)
        failures.append(exc)
    if failures:
        exc = failures[0]
        log.warning("sync of account %s failed: %s", account.name, exc)
        _mark(account, "error", f"sync failed: {plain_exception(exc)}")
        report(result.created + result.updated, None, "failed")
        return result
    done = result.created + result.updated + result.unchanged
    SellerAccount.update(sync_cursor=started, last_sync_at=utcnow()).where(
        SellerAccount.id == account.id
    ).execute()
    summary = f"{result.created} new, {result.updated} updated orders"
    if result.errors:
        summary += f"; {result.rejected} rejected: {result.errors[0]}"
    _mark(account, "ok" if not result.errors else "error", summary)
    if account.status == "error":  # as it was before this sync (``_mark`` writes the row)
        # The credentials reached Amazon again (rejected orders are the orders' problem,
        # not the account's): messages postponed on them go at the next dispatch rather
        # than at their day-long re-check. A healthy account has none: no UPDATE then.
        requeue_account_messages(account, "re-queued: the account synced successfully")
    report(done, done, "done")
    return result


def _mark(account: SellerAccount, status: str, message: str) -> None:
    SellerAccount.update(status=status, status_message=message).where(
        SellerAccount.id == account.id
    ).execute()
