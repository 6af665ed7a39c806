"""The set-based full re-plan (core.planning_bulk) gives exactly what the per-order
planner gives: same messages (due time, state, reason, sender, variant) and the same
decisions with the same reasons, on SQLite and PostgreSQL, and a second run adds nothing."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import clock, planning_bulk
from core.contracts import (
    FAILED,
    IN_DOUBT,
    SCHEDULED,
    SENDING_STATUSES,
    SENT,
    ItemData,
    OrderData,
    Rule,
)
from core.hookspecs import hookimpl
from core.models import (
    Campaign,
    Decision,
    Message,
    OptOut,
    Order,
    OrderItem,
    SellerAccount,
    Step,
)
from core.planning import fit_send_window, plan_all
from core.planning_bulk import replan
from core.store import store_orders
from tests.support.planning import assert_same_plans

NOW = datetime(2026, 11, 20, 15, 37, 12, 345678)
UTC = ZoneInfo("UTC")
MARKETS = ("US", "DE", "JP", "IN", "UK")


def _orders(rng: random.Random, n: int) -> list[OrderData]:
    """Orders in every state planning distinguishes, with sub-second times."""
    now = NOW.replace(tzinfo=UTC)
    buyers = [f"buyer-{i}" for i in range(n // 3)] + [""]
    out = []
    for i in range(n):
        placed = now - timedelta(days=rng.uniform(1, 50), microseconds=rng.randrange(10**6))
        events = {"ordered": placed}
        fields = {}
        shipped = delivered = None
        if rng.random() < 0.8:
            shipped = placed + timedelta(days=rng.uniform(0.2, 3))
            events["shipped"] = shipped
            if rng.random() < 0.6:
                delivered = shipped + timedelta(days=rng.uniform(1, 5))
                events["delivered"] = delivered
        shape = rng.random()
        if delivered is not None and shape < 0.7:
            fields.update(
                earliest_delivery=delivered, latest_delivery=delivered, delivery_confirmed=True
            )
        elif shipped is not None and shape < 0.85:
            early = shipped + timedelta(days=2)
            fields.update(earliest_delivery=early, latest_delivery=early + timedelta(days=3))
        elif shipped is not None and shape < 0.92:
            fields.update(latest_delivery=shipped + timedelta(days=4))
        elif shipped is not None:
            fields.update(earliest_delivery=shipped + timedelta(days=1, hours=7))
        tie = placed + timedelta(days=rng.uniform(0.5, 10))
        for kind in ("cancelled", "returned", "refunded"):
            if rng.random() < 0.08:
                events[kind] = (
                    tie if rng.random() < 0.5 else tie + timedelta(hours=rng.uniform(1, 99))
                )
        items = tuple(
            ItemData(
                rng.choice(["SKU-1", "sku-2", "SKU-3", "A-9", ""]),
                rng.choice(["B0AAA", "b0bbb", "B0CCC"]),
                "Item",
                rng.randint(1, 2),
                9.99,
            )
            for _ in range(rng.randint(0, 3))
        )
        market = MARKETS[i % len(MARKETS)]
        out.append(
            OrderData(
                order_id=f"111-{i:07d}-{rng.randrange(10**7):07d}",
                marketplace=market,
                fulfillment=rng.choice(["FBA", "FBM"]),
                status="Shipped" if shipped else "Unshipped",
                purchased_at=placed,
                last_updated_at=max(events.values()),
                items=items,
                total=rng.choice([round(rng.uniform(1, 400), 2), 10.0, 200.0, 0.5, 12345.67]),
                currency="USD",
                buyer_key=rng.choice(buyers),
                ship_country=rng.choice(["US", "de", "DE", "JP", "", "IN"]),
                is_business=rng.random() < 0.3,
                is_prime=rng.random() < 0.5,
                shipped_late=rng.random() < 0.2,
                shipped_at=shipped,
                events=events,
                **fields,
            )
        )
    return out


def _step(campaign, position, **values):
    base = dict(
        campaign=campaign,
        position=position,
        trigger="delivered",
        sender="dry_run",
        window_start_hour=0,
        window_end_hour=24,
        rules=[],
    )
    base.update(values)
    return Step.create(**base)


def _campaigns(accounts, review_on_pg: bool = True) -> None:
    """Steps using every rule, trigger, anchor, window shape, A/B split and status."""
    c = Campaign.create(name="Review", status="active")
    if review_on_pg:
        _step(
            c,
            1,
            anchor="review_window",
            sender="amazon_review",
            message_type="review_request",
            window_start_hour=9,
            window_end_hour=18,
            weekdays="01234",
            skip_holidays=True,
            rules=[
                {"rule": "not_cancelled_returned_refunded"},
                {"rule": "buyer_not_blocked", "params": {}},
            ],
        )
    _step(
        c,
        2,
        delay_days=3,
        sender="amazon_messaging",
        rules=[
            {"rule": "sku_include", "params": {"values": "SKU-1, sku-2"}},
            {"rule": "fulfillment", "params": {"fulfillment": "fbm"}},
        ],
    )
    c = Campaign.create(name="Shipped", status="active")
    _step(
        c,
        1,
        trigger="shipped",
        delay_days=1,
        delay_hours=6,
        window_start_hour=8,
        window_end_hour=20,
        rules=[
            {"rule": "sku_exclude", "params": {"values": ["A-9", "SKU-3"]}},
            {"rule": "asin_include", "params": {"values": "B0AAA B0BBB"}},
            {"rule": "order_total", "params": {"min": "10", "max": 200}},
            {"rule": "item_count", "params": {"min": 1, "max": "3"}},
            {"rule": "marketplace_in", "params": {"marketplaces": "us de IN"}},
        ],
    )
    _step(
        c,
        2,
        trigger="ordered",
        critical=True,
        rules=[
            {"rule": "buyer_type", "params": {"type": "first"}},
            {"rule": "business", "params": {"value": "true"}},
            {"rule": "prime", "params": {"value": False}},
        ],
    )
    _step(
        c,
        3,
        trigger="ordered",
        delay_hours=5,
        window_start_hour=10,
        window_end_hour=12,
        weekdays="135",
        rules=[
            {"rule": "buyer_type", "params": {"type": "repeat"}},
            {"rule": "shipped_late", "params": {"value": "no"}},
            {"rule": "ship_country", "params": {"include": "US DE IN", "exclude": ["de"]}},
            {"rule": "no_negative_feedback"},
        ],
    )
    c = Campaign.create(name="Refunds (test)", status="test")
    for n, trigger in enumerate(("returned", "refunded", "cancelled"), 1):
        _step(c, n, trigger=trigger, delay_days=n)
    c = Campaign.create(name="A/B", status="active")
    _step(
        c,
        1,
        trigger="delivered",
        delay_days=2,
        delay_hours=3,
        anchor="review_window" if review_on_pg else "event",
        message_type="review_request",
        window_start_hour=9,
        window_end_hour=17,
        variants=[{"label": "A", "weight": 1}, {"label": "B", "weight": 2}],
        holdout_percent=10,
        rules=[
            {"rule": "placed_after", "params": {"date": "2026-10-15"}},
            {"rule": "asin_exclude", "params": {"values": "B0CCC"}},
            {"rule": "buyer_not_blocked"},
        ],
    )
    c = Campaign.create(name="Second seller only", status="active", account=accounts[1])
    _step(c, 1, trigger="shipped", rules=[{"rule": "not_cancelled_returned_refunded"}])
    c = Campaign.create(name="Paused", status="paused")
    _step(c, 1, trigger="ordered")
    c = Campaign.create(name="Plugin rule", status="active")
    _step(c, 1, trigger="ordered", rules=[{"rule": "even_total"}, {"rule": "no_such_rule"}])


class EvenTotal:
    """A plugin rule without an SQL form: its steps are planned in Python."""

    @hookimpl
    def register_rules(self, engine):
        def check(engine, order, params):
            return None if int(order.total) % 2 == 0 else "rule: odd total"

        return [Rule("even_total", "Even total", check)]


class LateInGermany:
    """adjust_send_time for DE only: DE orders must go through the Python planner."""

    @hookimpl
    def adjust_send_time(self, engine, order, step, due_at):
        return due_at + timedelta(hours=1), "late: one hour later in Germany"


def _build(engine, seed: int, n: int, review_on_pg: bool = True):
    """A varied data set: orders, opt-outs, earlier review requests, existing messages."""
    rng = random.Random(seed)
    clock.freeze(NOW)
    accounts = [
        SellerAccount.create(name=f"Seller {i}", source="demo", marketplaces=list(MARKETS))
        for i in range(2)
    ]
    data = _orders(rng, n)
    for i, account in enumerate(accounts):
        store_orders(account, data[i::2], "test")
    orders = list(Order.select().order_by(Order.id))
    keys = sorted({o.buyer_key for o in orders if o.buyer_key})
    for key in rng.sample(keys, len(keys) // 5):
        for kind in rng.sample(["opt_out", "blocklist"], rng.randint(1, 2)):
            OptOut.create(buyer_key=key, kind=kind)
    for order in rng.sample(orders, n // 10):
        Order.update(negative_feedback=True).where(Order.id == order.id).execute()
    for order in rng.sample(orders, n // 12):
        Order.update(messages_stopped=True).where(Order.id == order.id).execute()
    _campaigns(accounts, review_on_pg)
    old = Campaign.create(name="Old review requests", status="paused")
    old_step = _step(old, 1, sender="amazon_review", message_type="review_request")
    for order in rng.sample(orders, n // 6):
        Message.create(
            order=order,
            step=old_step,
            campaign=old,
            account=order.account_id,
            sender=rng.choice(["amazon_review", "dry_run"]),
            state=rng.choice([SENT, IN_DOUBT, FAILED]),
            due_at=NOW - timedelta(days=3),
            review_request=True,
            dry_run=rng.random() < 0.5,
        )
    # Messages already planned for steps being re-planned: scheduled ones move or are
    # cancelled, sent ones are never touched again.
    active = list(Step.select().join(Campaign).where(Campaign.status.in_(SENDING_STATUSES)))
    for order in rng.sample(orders, n // 8):
        step = rng.choice(active)
        Message.insert(
            order=order,
            step=step,
            campaign=step.campaign_id,
            account=order.account_id,
            sender="dry_run",
            state=rng.choice([SCHEDULED, SCHEDULED, SENT]),
            due_at=NOW - timedelta(days=1),
            dry_run=True,
        ).on_conflict_ignore().execute()


def _snapshot():
    messages = {
        (m.order_id, m.step_id): (
            m.due_at,
            m.state,
            m.reason,
            m.sender,
            m.dry_run,
            m.review_request,
            m.variant,
            m.priority,
            m.account_id,
            m.campaign_id,
        )
        for m in Message.select()
    }
    decisions = {
        (d.order_id, d.step_id): (d.outcome, d.reason, d.decided_by) for d in Decision.select()
    }
    return messages, decisions


def _reset(base_messages: list[dict], base_decisions: list[dict]) -> None:
    """Back to the state before planning: the messages and decisions of before."""
    Decision.delete().execute()
    if base_decisions:
        Decision.insert_many(base_decisions).execute()
    Message.delete().where(Message.id.not_in([m["id"] for m in base_messages])).execute()
    for row in base_messages:
        Message.update(**{k: v for k, v in row.items() if k != "id"}).where(
            Message.id == row["id"]
        ).execute()


def _compare(engine, seed: int, monkeypatch):
    """Plan the same data with both planners and compare; return the per-order planner's
    result and the (order, step) pairs the bulk planner left to Python."""
    base = list(Message.select().dicts()), list(Decision.select().dicts())
    expected_result = plan_all(engine)
    expected = _snapshot()
    _reset(*base)
    in_python = set()
    per_order = planning_bulk.plan_order

    def counted(engine, order, steps, result, existing=None):
        in_python.update((order.id, step.id) for step in steps)
        return per_order(engine, order, steps, result, existing)

    monkeypatch.setattr(planning_bulk, "plan_order", counted)
    result = replan(engine)
    monkeypatch.undo()
    got = _snapshot()
    assert_same_plans(expected, got, f"seed {seed}: ")
    assert result == expected_result
    return expected, in_python


def _run(engine, seed, n, monkeypatch, python_markets=(), python_steps=lambda step: False):
    _build(engine, seed, n)
    (messages, decisions), in_python = _compare(engine, seed, monkeypatch)
    # every kind of outcome was exercised
    assert {d[0] for d in decisions.values()} == {"planned", "waiting", "excluded"}
    # Python planned only the step with a plugin rule and the marketplaces a plugin
    # answers for; everything else was set-based.
    plugin_step = Step.get(Step.campaign == Campaign.get(Campaign.name == "Plugin rule"))
    planned = Step.select().join(Campaign).where(Campaign.status.in_(SENDING_STATUSES))
    expected = set()
    for order in Order.select():
        for step in planned:
            mine = step.campaign.account_id in (None, order.account_id)
            in_python_anyway = step.id == plugin_step.id or python_steps(step)
            if mine and (in_python_anyway or order.marketplace in python_markets):
                expected.add((order.id, step.id))
    assert in_python == expected
    return messages, decisions


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bulk_replan_equals_per_order_planning_sqlite(make_engine, seed, monkeypatch):
    engine = make_engine(extra_plugins=[("even", EvenTotal())])
    messages, decisions = _run(engine, seed, 240, monkeypatch)
    reasons = {d[1].split(" ")[0] + " " + d[1].split(" ")[1] for d in decisions.values()}
    assert {"excluded: buyer", "excluded: more", "rule: SKU", "rule: buyer"} <= reasons
    assert {m[6] for m in messages.values()} >= {"A", "B", "holdout", ""}


def test_bulk_replan_with_a_window_plugin_for_one_marketplace(make_engine, monkeypatch):
    engine = make_engine(
        extra_plugins=[("late", LateInGermany()), ("even", EvenTotal())],
        **{"plugins.marketplaces": {"late": ["DE"]}},
    )
    _, decisions = _run(engine, 7, 150, monkeypatch, python_markets=("DE",))
    assert any("late: one hour later in Germany" in d[1] for d in decisions.values())


def test_step_scoped_plugins_send_only_their_steps_to_python(make_engine, monkeypatch):
    """The default plugins: review_timing moves review requests only and eu_vat vetoes
    invoices only (both marked ``@for_steps``), so with them on everywhere only the review
    request step is planned order by order; the others stay set-based, same outcome."""
    engine = make_engine(
        extra_plugins=[("even", EvenTotal())],
        plugins={"enabled": ["amazon", "demo", "review_timing", "eu_vat"], "entrypoints": False},
    )

    def review_request(step):
        return step.message_type == "review_request" or step.sender == "amazon_review"

    _, decisions = _run(engine, 11, 150, monkeypatch, python_steps=review_request)
    assert any(d[2] == "review_timing" for d in decisions.values())


def test_bulk_replan_after_a_campaign_edit_moves_and_cancels_like_python(make_engine, monkeypatch):
    """A planned database, then steps edited: scheduled messages move or are cancelled."""
    engine = make_engine(extra_plugins=[("even", EvenTotal())])
    _build(engine, 21, 180)
    replan(engine)
    for step in Step.select().join(Campaign).where(Campaign.status.in_(SENDING_STATUSES)):
        step.delay_days += 1
        step.window_start_hour, step.window_end_hour = 7, 19
        step.rules = (step.rules or []) + [{"rule": "order_total", "params": {"max": 150}}]
        step.save()
    (messages, _), _ = _compare(engine, 21, monkeypatch)
    cancelled = [m for m in messages.values() if m[1] == "cancelled"]
    assert any(reason.startswith("rule: order total") for _, _, reason, *_ in cancelled)


def test_values_sql_would_print_differently_are_planned_in_python(make_engine, monkeypatch):
    """SQL's UPPER("straße") is not Python's "STRASSE", and SQL rounds the tie 10.125 up
    where Python's :.2f gives 10.12: steps using those rules go to Python, and agree."""
    engine = make_engine(extra_plugins=[("even", EvenTotal())])
    _build(engine, 31, 90)
    first, second = Order.select().order_by(Order.id).limit(2)
    OrderItem.create(order=first, sku="straße", asin="B0AAA", title="Straße")
    Order.update(total=10.125).where(Order.id == second.id).execute()
    campaign = Campaign.create(name="Odd values", status="active")
    rules = [{"rule": "sku_include", "params": {"values": "STRASSE"}}]
    sku_step = _step(campaign, 1, trigger="ordered", rules=rules)
    rules = [{"rule": "order_total", "params": {"min": "10.13"}}]
    total_step = _step(campaign, 2, trigger="ordered", rules=rules)
    (_, decisions), in_python = _compare(engine, 31, monkeypatch)
    assert {(first.id, sku_step.id), (second.id, total_step.id)} <= in_python
    # "straße".upper() is "STRASSE": the order passes the SKU rule
    assert not decisions[(first.id, sku_step.id)][1].startswith("rule: SKU")
    assert decisions[(second.id, total_step.id)][1] == "rule: order total 10.12 below 10.13"


def test_bulk_replan_is_idempotent(make_engine):
    engine = make_engine(extra_plugins=[("even", EvenTotal())])
    _build(engine, 11, 150)
    first = replan(engine)
    assert first.planned > 0
    before = _snapshot()
    again = replan(engine)
    assert again.planned == 0
    assert _snapshot() == before


def test_bulk_replan_equals_per_order_planning_postgresql(make_engine, pg_url, monkeypatch):
    engine = make_engine(extra_plugins=[("even", EvenTotal())], database={"url": pg_url})
    _run(engine, 5, 180, monkeypatch)


@settings(max_examples=300, deadline=None)
@given(
    when=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 1, 1)),
    start=st.integers(0, 23),
    length=st.integers(1, 24),
    weekdays=st.sets(st.sampled_from("0123456"), min_size=1),
    holidays=st.booleans(),
    market=st.sampled_from(
        [
            ("Asia/Kolkata", "IN"),
            ("Europe/Berlin", "DE"),
            ("America/New_York", "US"),
            ("Australia/Adelaide", "AU"),
        ]
    ),
)
def test_send_window_is_the_same_for_every_time_in_a_minute(
    when, start, length, weekdays, holidays, market
):
    """The bulk planner fits the send window once per due minute: that is exact."""
    step = Step(
        window_start_hour=start,
        window_end_hour=min(24, start + length),
        weekdays="".join(sorted(weekdays)),
        skip_holidays=holidays,
    )
    minute = when.replace(second=0, microsecond=0)
    fixed = fit_send_window(minute, step, *market)
    moved = fit_send_window(when, step, *market)
    assert moved == (when if fixed == minute else fixed)
