"""A dispatch pass drains: every message due when the minute's tick runs goes out in
that tick, however many batches it takes, and a pass with a time budget stops when the
budget is spent, saying that messages remain."""

from __future__ import annotations

from core.campaigns import create_campaign, set_status
from core.clock import utcnow
from core.contracts import SCHEDULED, SENT
from core.dispatch import dispatch_due
from core.models import Message
from core.planning import plan_orders
from core.store import store_orders
from tests.conftest import order_data
from tests.support.campaigns import REVIEW_STEP

DUE = 240
BATCH = 2  # 120 batches: more than the 100 rounds a pass used to stop at


def _due_messages(engine, account) -> None:
    datas = [order_data("US", delivered_days_ago=7) for _ in range(DUE)]
    ids = store_orders(account, datas, "test").changed_ids
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active", backlog_days=30)  # the orders are a week old
    plan_orders(engine, ids)
    assert Message.select().where(Message.state == SCHEDULED).count() == DUE


def test_one_tick_sends_every_due_message(make_engine, account):
    from core.queue import make_huey
    from core.tasks import EngineQueue

    engine = make_engine(dispatch={"batch_size": BATCH})
    _due_messages(engine, account)
    account.last_sync_at = utcnow()  # the tick syncs nothing new, it only dispatches
    account.save()
    EngineQueue(engine, make_huey(engine.settings, immediate=True)).run_tick()
    assert Message.select().where(Message.state == SENT).count() == DUE


def test_a_pass_with_a_spent_budget_stops_and_says_more_remain(make_engine, account):
    engine = make_engine(dispatch={"batch_size": BATCH})
    _due_messages(engine, account)
    first = dispatch_due(engine, budget_seconds=0)
    assert first.more and first.claimed == 0
    rest = dispatch_due(engine)
    assert not rest.more and rest.claimed == DUE
    assert Message.select().where(Message.state == SENT).count() == DUE
