"""Whether an account's sync is in progress or stuck in the queue: ``core.sync``'s rules,
which the Accounts page only shows. No Flask, no database: unsaved accounts."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import utcnow
from core.models import SellerAccount
from core.sync import QUEUE_PATIENCE, sync_in_progress, sync_queue_is_stale


def queued(minutes_ago: float, status: str = "ok") -> SellerAccount:
    at = utcnow() - timedelta(minutes=minutes_ago)
    progress = {"done": 0, "total": None, "text": "queued", "queued_at": at.isoformat()}
    return SellerAccount(name="Shop", source="demo", status=status, sync_progress=progress)


def test_a_sync_queued_a_minute_ago_is_in_progress_and_not_stale():
    account = queued(1)
    assert sync_in_progress(account)
    assert not sync_queue_is_stale(account)


def test_a_sync_queued_past_the_patience_is_stale_and_no_longer_in_progress():
    account = queued(QUEUE_PATIENCE.total_seconds() / 60 + 1)
    assert QUEUE_PATIENCE == timedelta(minutes=15)
    assert sync_queue_is_stale(account)
    assert not sync_in_progress(account)


def test_a_running_sync_is_in_progress_however_long_ago_it_was_queued():
    account = queued(60, status="syncing")
    assert sync_in_progress(account)
    assert not sync_queue_is_stale(account)


@pytest.mark.parametrize("queued_at", ["", "yesterday", None])
def test_a_queue_entry_without_a_readable_time_is_stale(queued_at):
    progress = {"text": "queued", "queued_at": queued_at}
    account = SellerAccount(name="Shop", source="demo", status="ok", sync_progress=progress)
    assert sync_queue_is_stale(account)
    assert not sync_in_progress(account)


@pytest.mark.parametrize("progress", [None, {}, {"text": "done", "done": 5, "total": 5}])
def test_an_account_without_a_queued_or_running_sync_is_idle(progress):
    account = SellerAccount(name="Shop", source="demo", status="ok", sync_progress=progress)
    assert not sync_in_progress(account)
    assert not sync_queue_is_stale(account)
