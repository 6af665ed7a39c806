"""Named leases (``core.leases``): one holder at a time until it runs out, and a worker
starting up leaves another process's running sync alone."""

from __future__ import annotations

from datetime import timedelta

from core import clock, leases
from core.clock import utcnow
from core.models import SellerAccount
from core.worker import _release_interrupted_syncs


def test_a_lease_has_one_holder_until_it_runs_out(engine):
    now = utcnow()
    clock.freeze(now)
    assert leases.acquire("tick", "a", now + timedelta(seconds=60))
    assert not leases.acquire("tick", "b", now + timedelta(seconds=60))
    assert not leases.acquire("tick", "a", now + timedelta(seconds=60))  # not twice either
    assert leases.held("tick")
    clock.freeze(now + timedelta(seconds=61))
    assert not leases.held("tick")
    assert leases.acquire("tick", "b", now + timedelta(seconds=120))
    assert not leases.renew("tick", "a", now + timedelta(seconds=300))  # b's now
    leases.release("tick", "a")  # not a's to give up
    assert leases.held("tick")
    leases.release("tick", "b")
    assert not leases.held("tick")


def test_the_minute_slot_ends_on_the_minute(engine):
    start = utcnow().replace(second=0, microsecond=0)
    assert leases.slot_end(60, start + timedelta(seconds=17)) == start + timedelta(seconds=60)
    assert leases.slot_end(60, start) == start + timedelta(seconds=60)


def test_a_starting_worker_leaves_another_processs_running_sync_alone(engine):
    running = SellerAccount.create(name="Running", source="demo", status="syncing")
    cut_off = SellerAccount.create(name="Cut off", source="demo", status="syncing")
    assert leases.acquire(f"sync:{running.id}", "other-worker", utcnow() + timedelta(minutes=5))
    _release_interrupted_syncs()
    assert SellerAccount.get_by_id(running.id).status == "syncing"
    assert SellerAccount.get_by_id(cut_off.id).status == "error"
