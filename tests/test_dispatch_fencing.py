"""The fenced dispatcher, interleaving two workers by hand in one process.

Each test replays one interleaving that sent a message twice, or overwrote a ``sent``
message, with two huey worker threads (the shipped default), and checks what the
channel itself received.
"""

from __future__ import annotations

import contextlib
import time
from datetime import timedelta

import pytest

from core import Sender, SendResult, clock, dispatch, hookimpl
from core.contracts import IN_DOUBT, SENDING, SENT
from core.dispatch import (
    CLAIM_LOST,
    claim,
    dispatch_due,
    load_claimed,
    process,
    recover_expired_leases,
)
from core.models import Attempt, Campaign, Message, SellerAccount, Step
from core.planning import plan_orders
from core.store import store_orders
from tests.conftest import order_data

LEASE = 60


class Channel:
    """A channel that records what went out; ``during_send`` runs inside a send (the
    other worker acting while this one waits for a slow answer); ``offered`` says
    whether the channel would accept the message now (like Amazon's action list)."""

    def __init__(self):
        self.received: list[int] = []
        self.during_send = None
        self.answer = "sent"

    def send(self, engine, message, order, rendered):
        self.received.append(message.id)
        if self.during_send is not None:
            hook, self.during_send = self.during_send, None
            hook()
        return SendResult(self.answer, "ok")

    def preflight(self, engine, message, order):
        if message.id in self.received:
            return "waiting: the channel does not offer it for this order (re-checked daily)"
        return None

    @hookimpl
    def register_senders(self, engine):
        return [
            Sender(
                "slow",
                "Slow channel",
                self.send,
                preflight=self.preflight,
                needs_body=False,
            )
        ]


def planned(engine, count: int) -> None:
    """``count`` orders delivered two days ago, each with one message planned on the slow
    channel (an active campaign of one step)."""
    account = SellerAccount.create(name="S", source="demo")
    campaign = Campaign.create(name="Instructions", status="active")
    Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="slow",
        window_start_hour=0,
        window_end_hour=24,
    )
    orders = [order_data("US", delivered_days_ago=2) for _ in range(count)]
    plan_orders(engine, store_orders(account, orders, "t").changed_ids)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request, make_engine):
    """Three planned messages on the slow channel, on each database the product runs on
    (SQLite serialises writers; PostgreSQL claims with FOR UPDATE SKIP LOCKED and
    re-checks an UPDATE's WHERE on the row it waited for)."""
    database = {"url": request.getfixturevalue("pg_url")} if request.param != "sqlite" else {}
    clock.freeze(clock.utcnow())  # the orders below are dated from now
    channel = Channel()
    engine = make_engine(
        extra_plugins=[("slow", channel)],
        dispatch={"lease_seconds": LEASE, "batch_size": 10},
        **({"database": database} if database else {}),
    )
    planned(engine, 3)
    return engine, channel


def move(seconds: float) -> None:
    clock.freeze(clock.utcnow() + timedelta(seconds=seconds))


def test_a_stale_batch_never_sends_what_another_worker_recovered_and_sent(world):
    engine, channel = world
    batch_a = load_claimed(claim(engine, "worker-a", 10))
    assert len(batch_a) == 3
    move(LEASE + 1)  # worker A stalls longer than its lease
    other = dispatch_due(engine)  # worker B recovers the leases and sends all three
    assert other.states == {SENT: 3}
    for loaded in batch_a:  # worker A wakes up and goes on with its copies
        assert process(engine, loaded[0], loaded) == CLAIM_LOST
    assert sorted(channel.received) == sorted(m.id for m in Message.select())
    assert {m.state for m in Message.select()} == {SENT}, "a sent message was overwritten"


def test_a_stale_batch_is_renewed_and_read_again_in_one_go_and_a_lost_claim_dropped(
    world, monkeypatch
):
    engine, channel = world
    monkeypatch.setattr(dispatch, "FRESH_SECONDS", 0.0)  # every copy is stale at once
    stolen: list[int] = []

    def steal():  # during the first send, another worker takes one of the rest
        waiting = Message.select().where(Message.state == SENDING).order_by(Message.id)
        taken = next(m for m in waiting if m.id not in channel.received)
        Message.update(lease_owner="worker-b", claim_seq=Message.claim_seq + 1).where(
            Message.id == taken.id
        ).execute()
        stolen.append(taken.id)

    channel.during_send = steal
    result = dispatch_due(engine)
    assert result.states == {SENT: 2, CLAIM_LOST: 1}
    assert stolen[0] not in channel.received, "a message lost to another worker was sent"
    assert len(channel.received) == len(set(channel.received)) == 2
    assert Message.get_by_id(stolen[0]).lease_owner == "worker-b", "its new claim was touched"


def test_recovery_never_resets_a_message_claimed_again_since(world, monkeypatch):
    engine, channel = world
    claim(engine, "worker-a", 10)
    move(LEASE + 1)
    fresh: list = []
    real = dispatch.write_transaction

    @contextlib.contextmanager
    def racing():
        # Between worker B's read of the expired leases and its first write, worker C
        # recovers them and claims them again under a new lease.
        if not fresh:
            fresh.append(None)
            monkeypatch.setattr(dispatch, "write_transaction", real)
            recover_expired_leases(engine)
            fresh[:] = claim(engine, "worker-c", 10)
        with real():
            yield

    monkeypatch.setattr(dispatch, "write_transaction", racing)
    recover_expired_leases(engine)  # worker B, on what it read
    assert len(fresh) == 3
    messages = list(Message.select())
    assert {(m.state, m.lease_owner) for m in messages} == {(SENDING, "worker-c")}, (
        "B's stale recovery reset C's live claims"
    )
    for loaded in load_claimed(fresh):
        assert process(engine, loaded[0], loaded) == SENT
    assert dispatch_due(engine).claimed == 0
    assert len(channel.received) == len(set(channel.received)) == 3


def test_a_send_slower_than_the_lease_is_recorded_by_its_worker_and_not_resent(world):
    engine, channel = world
    (loaded, *_rest) = load_claimed(claim(engine, "worker-a", 1))

    def meanwhile():  # worker B runs while A waits for the channel's answer
        move(LEASE + 1)
        dispatch_due(engine)
        message = Message.get_by_id(loaded[1].id)
        assert message.state == IN_DOUBT, "an attempt was committed: in doubt, not resent"

    channel.during_send = meanwhile
    assert process(engine, loaded[0], loaded) == SENT  # the channel's word wins
    message = Message.get_by_id(loaded[1].id)
    assert message.state == SENT and message.error == ""
    assert channel.received.count(message.id) == 1
    assert Attempt.select().where(Attempt.message == message.id).count() == 1


def test_sent_is_never_overwritten_by_a_stale_worker_whose_channel_says_not_now(world):
    engine, channel = world
    batch_a = load_claimed(claim(engine, "worker-a", 10))
    move(LEASE + 1)
    dispatch_due(engine)
    sent = {m.id for m in Message.select().where(Message.state == SENT)}
    assert len(sent) == 3
    # Worker A's preflight would now say "not offered" (the message went out): with
    # its stale claim it must not postpone the sent messages.
    for loaded in batch_a:
        process(engine, loaded[0], loaded)
    assert {m.id for m in Message.select().where(Message.state == SENT)} == sent
    assert all(m.reason != "" or m.state == SENT for m in Message.select())


def test_a_live_lease_is_never_recovered(world):
    engine, channel = world
    (loaded,) = load_claimed(claim(engine, "worker-a", 1))
    move(LEASE - 1)
    assert recover_expired_leases(engine) == 0
    assert process(engine, loaded[0], loaded) == SENT
    assert channel.received == [loaded[1].id]


def test_the_heartbeat_survives_a_failed_renewal_and_keeps_the_lease(make_engine, monkeypatch):
    """One renewal failing (say "database is locked") must not end the heartbeat: the
    lease would then run out under a live send and recovery would call it in doubt."""
    import threading

    from peewee import OperationalError

    engine = make_engine(extra_plugins=[("slow", Channel())], dispatch={"lease_seconds": 2})
    planned(engine, 1)
    (claimed,) = claim(engine, "worker-a", 1)
    calls = []
    real = dispatch.renew

    def flaky(engine, claim):
        calls.append(threading.current_thread().name)
        if len(calls) == 1:
            raise OperationalError("database is locked")
        return real(engine, claim)

    monkeypatch.setattr(dispatch, "renew", flaky)
    with dispatch._heartbeat(engine, claimed, needed=True):  # beats every 2/3 s
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(calls) >= 3, calls  # it went on after the failed beat
    assert Message.get_by_id(claimed.message_id).lease_until > clock.utcnow()
