"""One decision path: what sellers saw go wrong in the decision, each replayed.

* a test-status send must not use up the live Request a Review;
* a review request whose partner is still in flight waits and looks again in minutes;
* one broken rule value stops only its own step;
* a template that cannot render fails visibly (retryable), never a silent skip;
* throttling backs off over hours without using up the attempts;
* a transient "waiting" answer is checked again when the plugin says.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from core import Sender, SendResult, Waiting, clock, hookimpl
from core.campaigns import dry_run, set_status
from core.contracts import FAILED, RETRY, SCHEDULED, SENT
from core.decide import ERROR, SEND, decide
from core.dispatch import claim, dispatch_due
from core.models import (
    Campaign,
    Decision,
    Message,
    Order,
    SellerAccount,
    Step,
    Template,
    TemplateVariant,
    TemplateVersion,
)
from core.outbox import retry_message
from core.planning import plan_orders
from core.send_now import send_step_now
from core.store import store_orders
from tests.conftest import order_data


class Amazonish:
    """A live channel recording what it received. ``answers`` are used in turn (then
    "sent"); ``preflight_says`` is its preflight's answer."""

    def __init__(self):
        self.received: list[tuple[str, str]] = []
        self.answers: list[SendResult] = []
        self.preflight_says = None

    def send(self, engine, message, order, rendered):
        self.received.append((order.order_id, message.sender))
        return self.answers.pop(0) if self.answers else SendResult(SENT, "accepted")

    def preflight(self, engine, message, order):
        return self.preflight_says

    @hookimpl
    def register_senders(self, engine):
        return [
            Sender(
                "live_review",
                "Live review",
                self.send,
                preflight=self.preflight,
                review_request=True,
                needs_body=False,
            ),
            Sender("live_text", "Live text", self.send, preflight=self.preflight),
        ]


@pytest.fixture
def live(make_engine):
    clock.freeze(clock.utcnow())
    channel = Amazonish()
    engine = make_engine(extra_plugins=[("live", channel)])
    account = SellerAccount.create(name="S", source="demo")
    return engine, channel, account


def review_campaign(name: str, status: str = "active", sender: str = "live_review") -> Step:
    campaign = Campaign.create(name=name, status=status)
    return Step.create(
        campaign=campaign,
        trigger="delivered",
        sender=sender,
        message_type="review_request",
        window_start_hour=0,
        window_end_hour=24,
    )


def plan(engine, account, n: int = 1) -> list[Order]:
    datas = [order_data("US", delivered_days_ago=7) for _ in range(n)]
    plan_orders(engine, store_orders(account, datas, "t").changed_ids)
    return [Order.get(Order.order_id == d.order_id) for d in datas]


def move(**delta) -> None:
    clock.freeze(clock.utcnow() + timedelta(**delta))


# -- test sends and the ledger ----------------------------------------------------------


def test_a_test_campaign_send_does_not_use_up_the_live_review_request(live):
    engine, channel, account = live
    step = review_campaign("Reviews", status="test")
    (order,) = plan(engine, account)
    assert dispatch_due(engine).states == {SENT: 1}
    assert channel.received == []  # test status: through the dry-run sender only
    set_status(engine, step.campaign, "active", backlog_days=30)
    dispatch_due(engine)
    assert channel.received == [(order.order_id, "live_review")]
    live_message = Message.get((Message.step == step.id) & (Message.dry_run == False))  # noqa: E712
    assert live_message.state == SENT
    # The test send stays in the outbox as the seller's record.
    assert Message.select().where(Message.dry_run == True).count() == 1  # noqa: E712


def test_send_now_after_a_test_send_sends_for_real(live):
    engine, channel, account = live
    step = review_campaign("Reviews", status="test")
    (order,) = plan(engine, account)
    dispatch_due(engine)
    Campaign.update(status="active").where(Campaign.id == step.campaign_id).execute()
    step = Step.get_by_id(step.id)
    ok, why = send_step_now(engine, order, step, by="seller")
    assert ok, why
    assert channel.received == [(order.order_id, "live_review")]


def test_a_test_send_does_not_block_other_campaigns_review_requests(live):
    engine, channel, account = live
    review_campaign("Tested", status="test")
    (order,) = plan(engine, account)
    dispatch_due(engine)  # the test campaign's dry-run review request
    other = review_campaign("Live")
    report = dry_run(engine, other.campaign)
    assert report.would_send == 1, report.reasons
    plan_orders(engine, [order.id])
    dispatch_due(engine)
    assert channel.received == [(order.order_id, "live_review")]


# -- two review-request campaigns --------------------------------------------------------


def test_a_review_request_waits_for_its_partner_in_flight_and_sends_if_it_fails(live):
    engine, channel, account = live
    first = review_campaign("First")
    second = review_campaign("Second")
    (order,) = plan(engine, account)
    by_step = {m.step_id: m for m in Message.select()}
    # A worker holds the first campaign's request (in flight) ...
    Message.update(due_at=clock.utcnow() + timedelta(minutes=1)).where(
        Message.id == by_step[second.id].id
    ).execute()
    (held,) = claim(engine, "other-worker", 10)
    assert held.message_id == by_step[first.id].id
    # ... when the second one comes due: it waits, and looks again within minutes.
    move(minutes=2)  # the first one's lease (5 minutes) still holds
    dispatch_due(engine)
    waiting = Message.get_by_id(by_step[second.id].id)
    assert waiting.state == SCHEDULED
    assert "being sent" in waiting.reason
    assert waiting.due_at - clock.utcnow() <= timedelta(minutes=5)
    assert channel.received == []
    # The first one then fails for good (e.g. a mail server's 550) and releases its lease.
    channel.answers = [SendResult(FAILED, "550 mailbox unavailable")]
    Message.update(lease_until=clock.utcnow() - timedelta(seconds=1)).where(
        Message.id == held.message_id
    ).execute()
    Message.update(state=SCHEDULED, lease_owner="").where(Message.id == held.message_id).execute()
    dispatch_due(engine)
    assert Message.get_by_id(held.message_id).state == FAILED
    move(minutes=5)
    dispatch_due(engine)
    assert Message.get_by_id(by_step[second.id].id).state == SENT
    assert channel.received.count((order.order_id, "live_review")) == 2  # one failed, one sent


# -- a broken step stops only itself ----------------------------------------------------


def test_one_bad_rule_value_stops_only_its_own_step(live):
    engine, channel, account = live
    broken = review_campaign("Broken")
    broken.rules = [{"rule": "order_total", "params": {"min": "lots"}}]
    broken.save()  # stored before values were validated on save
    healthy = review_campaign("Healthy", sender="dry_run")
    (order,) = plan(engine, account)
    decision = Decision.get((Decision.order == order.id) & (Decision.step == broken.id))
    assert decision.outcome == ERROR
    assert "order total" in decision.reason.lower() and "fix" in decision.reason
    assert Message.get(Message.step == healthy.id).state == SCHEDULED
    verdict = decide(engine, order, Step.get_by_id(healthy.id))
    assert verdict.outcome == SEND


def test_a_step_broken_after_planning_fails_its_messages_visibly_and_can_be_retried(live):
    engine, channel, account = live
    step = review_campaign("Reviews")
    plan(engine, account)
    step.rules = [{"rule": "item_count", "params": {"min": "two"}}]
    step.save()
    dispatch_due(engine)
    message = Message.get()
    assert message.state == FAILED
    assert "cannot run" in message.error and "fix the campaign step" in message.error
    step.rules = []
    step.save()
    assert retry_message(message, by="seller")
    dispatch_due(engine)
    assert Message.get().state == SENT


# -- templates that cannot render --------------------------------------------------------


def text_step(body: str) -> Step:
    template = Template.create(name="Manual", channel="messaging", message_type="x")
    version = TemplateVersion.create(template=template, number=1)
    TemplateVariant.create(version=version, language="en", body=body)
    step = review_campaign("Manuals", sender="live_text")
    step.message_type = "product_instructions"
    step.template = template
    step.save()
    return step


@pytest.mark.parametrize(
    "body", ["Order {{ order_id }}: {{ buyer_email }}", "Order {{ order_id|uper }}: the manual."]
)
def test_a_template_that_cannot_render_fails_and_asks_for_a_fix(live, body):
    engine, channel, account = live
    text_step(body)
    plan(engine, account)
    dispatch_due(engine)
    message = Message.get()
    assert message.state == FAILED, (message.state, message.reason)
    assert "template error" in message.error and "fix the template" in message.error
    assert channel.received == []


# -- throttling and transient waits -----------------------------------------------------


def test_throttling_backs_off_over_hours_without_using_up_attempts(live):
    engine, channel, account = live
    review_campaign("Reviews")
    plan(engine, account)
    throttled = SendResult(RETRY, "Amazon answered 429", retry_after=2, throttled=True)
    channel.answers = [throttled] * 8
    delays = []
    for _ in range(8):
        before = clock.utcnow()
        dispatch_due(engine)
        message = Message.get()
        assert message.state == RETRY, (message.state, message.error)
        delays.append((message.due_at - before).total_seconds())
        clock.freeze(message.due_at)
    assert delays[0] >= 60 and delays[-1] >= 3600, delays  # minutes, then hours
    assert Message.get().attempts <= 1
    dispatch_due(engine)
    assert Message.get().state == SENT
    assert len(channel.received) == 9


def test_throttled_for_longer_than_the_give_up_time_fails(live):
    engine, channel, account = live
    review_campaign("Reviews")
    plan(engine, account)
    channel.answers = [SendResult(RETRY, "429", throttled=True)] * 100
    started = clock.utcnow()
    while Message.get().state == RETRY or Message.get().attempts == 0:
        dispatch_due(engine)
        message = Message.get()
        if message.state != RETRY:
            break
        clock.freeze(message.due_at)
    message = Message.get()
    assert message.state == FAILED and "kept throttling" in message.error
    assert clock.utcnow() - started >= timedelta(hours=48)


def test_a_transient_wait_is_checked_again_in_minutes_not_a_day(live):
    engine, channel, account = live
    review_campaign("Reviews")
    plan(engine, account)
    channel.preflight_says = Waiting("waiting: Amazon throttled the read", recheck_after=120)
    dispatch_due(engine)
    message = Message.get()
    assert message.state == SCHEDULED
    assert message.due_at - clock.utcnow() == timedelta(seconds=120)
    channel.preflight_says = "waiting: not offered yet"
    move(seconds=121)
    dispatch_due(engine)
    assert Message.get().due_at - clock.utcnow() == timedelta(days=1)
