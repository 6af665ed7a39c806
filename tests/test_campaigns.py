"""Campaign life cycle, A/B with holdout, daily limit and dry run, through the engine."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest

from core import Preset
from core.abtest import export_csv, import_outcomes, outcomes_by_variant, variant_counts
from core.campaigns import (
    CampaignError,
    create_campaign,
    create_from_preset,
    dry_run,
    set_status,
    update_step,
)
from core.clock import utcnow
from core.contracts import SCHEDULED, SENT
from core.dispatch import dispatch_due
from core.ledger import daily_usage
from core.models import (
    Campaign,
    Decision,
    Message,
    SellerAccount,
    Template,
    TemplateVariant,
    TemplateVersion,
)
from core.planning import plan_orders
from core.store import store_orders
from tests.conftest import order_data
from tests.support.campaigns import REVIEW_STEP


def template(body: str, language: str = "en") -> Template:
    t = Template.create(name="Instructions", channel="messaging", message_type="x")
    v = TemplateVersion.create(template=t, number=1)
    TemplateVariant.create(version=v, language=language, body=body)
    return t


def orders(account, *datas):
    return store_orders(account, list(datas), "test").changed_ids


def test_new_campaigns_are_drafts_and_plan_nothing(engine, account):
    ids = orders(account, order_data("US", delivered_days_ago=7))
    create_campaign(engine, "Reviews", [REVIEW_STEP])
    assert plan_orders(engine, ids).planned == 0


def test_invalid_step_is_refused_with_each_problem(engine):
    with pytest.raises(CampaignError) as err:
        create_campaign(
            engine,
            "Bad",
            [dict(REVIEW_STEP, trigger="teleported", window_start_hour=18, window_end_hour=9)],
        )
    problems = " ".join(err.value.problems)
    assert "step 1: trigger" in problems and "window must end after it starts" in problems


def test_activation_plans_and_pause_keeps_messages_waiting_with_reason(engine, account):
    ids = orders(account, order_data("US", delivered_days_ago=7))
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active", backlog_days=30)
    assert Message.select().count() == 1
    assert plan_orders(engine, ids).planned == 0
    set_status(engine, campaign, "paused")
    message = Message.get()
    assert (message.state, message.reason) == (SCHEDULED, "waiting: campaign paused")
    assert dispatch_due(engine).claimed == 0
    set_status(engine, campaign, "active", backlog_days=30)
    assert dispatch_due(engine).states == {SENT: 1}


def test_two_review_requests_in_one_campaign_are_refused(engine):
    campaign = create_campaign(engine, "Twice", [REVIEW_STEP, dict(REVIEW_STEP, delay_days=3)])
    with pytest.raises(CampaignError) as err:
        set_status(engine, campaign, "active", backlog_days=30)
    assert "asks for a review more than once per order" in " ".join(err.value.problems)


def test_step_without_template_cannot_be_activated(engine):
    campaign = create_campaign(
        engine, "Manual", [dict(REVIEW_STEP, message_type="product_instructions")]
    )
    with pytest.raises(CampaignError) as err:
        set_status(engine, campaign, "active", backlog_days=30)
    assert "choose a template" in " ".join(err.value.problems)


def test_editing_a_step_moves_its_scheduled_messages(engine, account):
    orders(account, order_data("US", delivered_days_ago=1))
    campaign = create_campaign(engine, "Reviews", [dict(REVIEW_STEP, delay_days=10)])
    set_status(engine, campaign, "active", backlog_days=30)
    before = Message.get().due_at
    update_step(engine, campaign.steps.get(), {"delay_days": 12})
    assert Message.get().due_at == before + timedelta(days=2)
    assert "+ 12d" in Decision.get().reason


def test_editing_rules_cancels_messages_that_no_longer_match(engine, account):
    orders(account, order_data("US", delivered_days_ago=1, sku="MUG-1"))
    campaign = create_campaign(engine, "Reviews", [dict(REVIEW_STEP, delay_days=10)])
    set_status(engine, campaign, "active", backlog_days=30)
    update_step(
        engine,
        campaign.steps.get(),
        {"rules": [{"rule": "sku_include", "params": {"values": "LAMP-2"}}]},
    )
    message = Message.get()
    assert message.state == "cancelled" and message.reason == "rule: SKU not in campaign (MUG-1)"


def test_create_from_preset(engine):
    preset = Preset(
        "fba-us",
        "FBA review request (US)",
        "US",
        "FBA",
        (dict(REVIEW_STEP, anchor="review_window"),),
        "Asks for a review when Amazon's window opens.",
    )
    campaign = create_from_preset(engine, preset)
    assert (campaign.status, campaign.preset) == ("draft", "fba-us")
    assert campaign.steps.get().anchor == "review_window"


def test_ab_variants_and_holdout_are_deterministic_and_counted(engine, account):
    datas = [order_data("US", delivered_days_ago=7) for _ in range(120)]
    ids = orders(account, *datas)
    a = template("Order {{ order_id }}: here is how to set up your product.")
    b = template("Order {{ order_id }}: a short guide to your new product.")
    step = dict(
        REVIEW_STEP,
        message_type="product_instructions",
        variants=[
            {"template": a.id, "weight": 1, "label": "A"},
            {"template": b.id, "weight": 1, "label": "B"},
        ],
        holdout_percent=20,
        template=a.id,
    )
    campaign = create_campaign(engine, "AB", [step])
    Campaign.update(status="active").where(Campaign.id == campaign.id).execute()
    plan_orders(engine, ids)
    first = {m.order_id: m.variant for m in Message.select()}
    Message.delete().execute()
    plan_orders(engine, ids)
    assert {m.order_id: m.variant for m in Message.select()} == first  # deterministic
    counts = {v: sum(states.values()) for v, states in variant_counts(campaign.steps.get()).items()}
    assert set(counts) == {"A", "B", "holdout"}
    assert 10 <= counts["holdout"] <= 40 and counts["A"] > 20 and counts["B"] > 20
    dispatch_due(engine)
    holdout = Message.select().where(Message.variant == "holdout")
    assert all(m.state == "skipped" and "holdout" in m.reason for m in holdout)
    texts = {m.variant: m.body for m in Message.select().where(Message.state == SENT)}
    assert "how to set up" in texts["A"] and "short guide" in texts["B"]
    assert "AB,Request a review,holdout,skipped," in export_csv(campaign.steps.get())


def test_outcomes_are_attached_to_variants(engine, account):
    ids = orders(account, *(order_data("US", delivered_days_ago=7) for _ in range(20)))
    campaign = create_campaign(engine, "R", [REVIEW_STEP])
    Campaign.update(status="active").where(Campaign.id == campaign.id).execute()
    plan_orders(engine, ids)
    dispatch_due(engine)
    today = utcnow().date()
    header = "asin,metric,period_start,period_end,value\n"
    stored = import_outcomes(f"{header}B0TEST0001,reviews,{today - timedelta(days=1)},{today},7\n")
    assert stored == 1
    report = outcomes_by_variant(campaign.steps.get())
    assert report["A"]["messages"] == 20 and report["A"]["reviews"] == 7


def test_outcomes_several_variants_touched_are_shared_and_the_holdout_counts(engine, account):
    """Reviews are per ASIN and period: one only variant A messaged is A's; one A and B
    both messaged is shared (credited to neither); the holdout is credited like a variant
    on the day its message would have gone out."""
    from core.models import OrderItem

    ids = orders(account, *(order_data("US", delivered_days_ago=7) for _ in range(40)))
    step = dict(REVIEW_STEP, variants=[{"label": "A", "weight": 1}, {"label": "B", "weight": 1}])
    campaign = create_campaign(engine, "AB", [dict(step, holdout_percent=25)])
    Campaign.update(status="active").where(Campaign.id == campaign.id).execute()
    plan_orders(engine, ids)
    dispatch_due(engine)
    by_variant = defaultdict(list)
    for m in Message.select():
        by_variant[m.variant].append(m.order_id)
    assert set(by_variant) == {"A", "B", "holdout"}
    # A's first order and the holdout's orders are of their own products.
    OrderItem.update(asin="B0ONLYA").where(OrderItem.order == by_variant["A"][0]).execute()
    OrderItem.update(asin="B0HOLD").where(OrderItem.order.in_(by_variant["holdout"])).execute()
    today = utcnow().date()
    rows = "".join(
        f"{asin},reviews,{today - timedelta(days=10)},{today},{value}\n"
        for asin, value in (("B0ONLYA", 3), ("B0TEST0001", 10), ("B0HOLD", 2))
    )
    import_outcomes("asin,metric,period_start,period_end,value\n" + rows)
    report = outcomes_by_variant(campaign.steps.get())
    assert report["A"] == {"messages": len(by_variant["A"]), "reviews": 3}
    assert report["B"] == {"messages": len(by_variant["B"]), "reviews": 0}
    assert report["holdout"] == {"messages": len(by_variant["holdout"]), "reviews": 2}
    assert report["shared"]["reviews"] == 10


def test_daily_limit_sends_higher_priority_first_and_the_rest_waits(make_engine):
    engine = make_engine()
    from core.models import SellerAccount

    account = SellerAccount.create(name="S", source="demo")
    ids = orders(account, *(order_data("US", delivered_days_ago=7) for _ in range(8)))
    import core.ledger as vetoes

    original = vetoes.DAILY_LIMIT_BASE
    vetoes.DAILY_LIMIT_BASE = 3
    try:
        t = template("Order {{ order_id }}: your manual is attached.")
        first = create_campaign(
            engine, "Manuals", [dict(REVIEW_STEP, message_type="x", template=t.id, priority=7)]
        )
        second = create_campaign(engine, "Reviews", [dict(REVIEW_STEP, priority=2)])
        for c in (first, second):
            Campaign.update(status="active").where(Campaign.id == c.id).execute()
        plan_orders(engine, ids)
        # make it a real (non dry-run) send so it counts against the limit
        Message.update(dry_run=False).execute()
        dispatch_due(engine)
        sent = Message.select().where(Message.state == SENT)
        assert sent.count() == 3
        assert {m.campaign.name for m in sent} == {"Reviews"}  # priority 2 before 7
        waiting = Message.select().where(Message.state == SCHEDULED)
        assert all(
            m.reason.startswith("waiting: daily message limit reached (3/3)") for m in waiting
        )
        assert min(m.due_at for m in waiting) > utcnow()
        assert daily_usage(account.id) == (3, 3)
    finally:
        vetoes.DAILY_LIMIT_BASE = original


def test_dry_run_counts_and_reasons(engine, account):
    refunded = order_data("US", delivered_days_ago=7)
    refunded = order_data(
        "US",
        delivered_days_ago=7,
        events={"refunded": refunded.events["delivered"] + timedelta(days=1)},
    )
    orders(
        account,
        order_data("US", delivered_days_ago=7),
        order_data("DE", delivered_days_ago=8),
        refunded,
    )
    campaign = create_campaign(engine, "R", [REVIEW_STEP])
    report = dry_run(engine, campaign, days=30)
    assert (report.orders, report.would_send, report.skipped) == (3, 2, 1)
    assert report.top_reasons() == [("excluded: refunded", 1)]
    assert Message.select().count() == 0  # nothing saved, nothing sent


def test_dry_run_judges_time_limits_at_each_messages_due_time(engine, account):
    """An order delivered 75 days ago had its review window open 70 days ago; a dry run
    over 90 days reports it as sent then, not as "window closed" (as of today)."""
    orders(account, order_data("US", days_ago=80, delivered_days_ago=75))
    campaign = create_campaign(engine, "R", [REVIEW_STEP])
    report = dry_run(engine, campaign, days=90)
    assert (report.orders, report.would_send, report.skipped) == (1, 1, 0), report.reasons


def test_per_product_content_picks_the_right_manual(engine, account):
    ids = orders(
        account,
        order_data("US", delivered_days_ago=2, sku="LAMP-1"),
        order_data("US", delivered_days_ago=2, sku="DESK-9"),
    )
    t = template("Order {{ order_id }}: {{ product_content.manual }}")
    step = dict(
        REVIEW_STEP,
        message_type="product_instructions",
        template=t.id,
        product_content={
            "LAMP-1": {"manual": "Tilt the lamp head before tightening the screw."},
            "DESK-9": {"manual": "Calibrate the desk by holding the down key for 10 seconds."},
        },
    )
    campaign = create_campaign(engine, "Manuals", [step])
    set_status(engine, campaign, "active", backlog_days=30)
    assert plan_orders(engine, ids).planned == 0  # already planned on activation
    dispatch_due(engine)
    bodies = {m.order.items.get().sku: m.body for m in Message.select()}
    assert "Tilt the lamp head" in bodies["LAMP-1"]
    assert "Calibrate the desk" in bodies["DESK-9"]


def test_library_review_request_renders_with_amazons_review_link(engine, account):
    from core.templates import import_from_library

    ids = orders(account, order_data("DE", delivered_days_ago=7))
    template = import_from_library("review_request")
    campaign = create_campaign(engine, "Email review", [dict(REVIEW_STEP, template=template.id)])
    set_status(engine, campaign, "active", backlog_days=30)
    assert plan_orders(engine, ids).planned == 0
    dispatch_due(engine)
    message = Message.get()
    assert message.state == SENT, message.reason
    assert message.language == "de"
    assert "https://www.amazon.de/review/create-review?asin=B0TEST0001" in message.body
    assert message.template_version.number == 1


def test_saving_a_template_makes_a_new_version(engine):
    from core.templates import save_version

    t = template("Order {{ order_id }}: version one.")
    v2 = save_version(t, {"en": {"body": "Order {{ order_id }}: version two."}}, user="maria")
    assert v2.number == 2
    assert TemplateVersion.get(TemplateVersion.number == 1).variants.get().body.endswith("one.")


def test_activation_with_a_lint_error_is_refused_with_the_findings(engine):
    bad = template("Order {{ order_id }}: leave us a 5-star review and get a 10% coupon!")
    campaign = create_campaign(
        engine, "Bad", [dict(REVIEW_STEP, message_type="product_instructions", template=bad.id)]
    )
    with pytest.raises(CampaignError) as err:
        set_status(engine, campaign, "active", backlog_days=30)
    problems = " ".join(err.value.problems)
    assert "FU-REVIEW-POSITIVE" in problems and "FU-MARKETING" in problems
    assert Campaign.get_by_id(campaign.id).status == "draft"


def test_rendered_text_failing_the_linter_is_skipped_with_rule_ids(engine, account):
    # The template is clean; the product title the order brings in is not.
    ids = orders(account, order_data("US", delivered_days_ago=2))
    from core.models import OrderItem

    OrderItem.update(title="Lamp — visit www.cheap-lamps.example for more").execute()
    t = template("Order {{ order_id }}: setup guide for {{ product_title }}.")
    campaign = create_campaign(
        engine, "Guide", [dict(REVIEW_STEP, message_type="product_instructions", template=t.id)]
    )
    set_status(engine, campaign, "active", backlog_days=30)
    assert plan_orders(engine, ids).planned == 0
    dispatch_due(engine)
    message = Message.get()
    assert message.state == "skipped"
    assert message.reason == "skipped: compliance FU-LINK-EXTERNAL"


def test_as_of_moves_the_clock_of_this_thread_only():
    """The dry run pins "now" to each message's due time; a web request or the worker
    running at the same moment in another thread must keep the real time."""
    import threading
    from datetime import datetime

    from core.clock import as_of

    past = datetime(2026, 1, 5, 10, 0)
    seen = {}
    inside, done = threading.Event(), threading.Event()

    def other_thread():
        inside.wait(5)
        seen["other"] = utcnow()
        done.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with as_of(past):
        inside.set()
        done.wait(5)
        seen["here"] = utcnow()
    worker.join()
    assert seen["here"] == past
    assert seen["other"] > past + timedelta(days=300)
    assert utcnow() > past + timedelta(days=300)  # released after the block


def test_a_large_campaign_edit_is_re_planned_by_the_worker(make_engine, account):
    """Over ``[planning] inline_replan_max_orders`` orders, activation stores a re-plan
    request instead of making the seller wait; the worker's tick plans it, clears the
    request, and the campaign page says so while it is pending."""
    from core.campaigns import run_pending_replans
    from core.queue import make_huey
    from core.tasks import EngineQueue

    engine = make_engine(planning={"inline_replan_max_orders": 2})
    orders(account, *(order_data("US", delivered_days_ago=7) for _ in range(3)))
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active", backlog_days=30)
    assert Message.select().count() == 0
    assert Campaign.get_by_id(campaign.id).replan_requested_at is not None
    account.last_sync_at = utcnow()  # the tick syncs nothing new, it only re-plans
    account.save()
    EngineQueue(engine, make_huey(engine.settings, immediate=True)).run_tick()
    assert Message.select().where(Message.campaign == campaign.id).count() == 3
    campaign = Campaign.get_by_id(campaign.id)
    assert campaign.replan_requested_at is None and campaign.replan_lease_until is None
    assert run_pending_replans(engine) == 0


def test_pending_re_plan_survives_a_crash_and_a_held_lease(make_engine, account, monkeypatch):
    from core import campaigns as campaigns_module
    from core.campaigns import run_pending_replans

    engine = make_engine(planning={"inline_replan_max_orders": 0})
    orders(account, order_data("US", delivered_days_ago=7))
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active", backlog_days=30)
    real = campaigns_module._replan_now

    def crash(engine, campaign):
        raise RuntimeError("worker killed mid re-plan")

    monkeypatch.setattr(campaigns_module, "_replan_now", crash)
    with pytest.raises(RuntimeError):
        run_pending_replans(engine)
    assert Campaign.get_by_id(campaign.id).replan_requested_at is not None  # not lost
    # Another worker thread holds the lease: this one leaves the campaign alone.
    monkeypatch.setattr(campaigns_module, "_replan_now", real)
    assert run_pending_replans(engine) == 0 and Message.select().count() == 0
    # The lease of the crashed run expires; then the request is carried out.
    Campaign.update(replan_lease_until=utcnow() - timedelta(seconds=1)).execute()

    def edited_meanwhile(engine, campaign):
        result = real(engine, campaign)
        later = utcnow()  # the seller edits again while the worker re-plans
        Campaign.update(replan_requested_at=later).where(Campaign.id == campaign.id).execute()
        return result

    monkeypatch.setattr(campaigns_module, "_replan_now", edited_meanwhile)
    assert run_pending_replans(engine) == 1 and Message.select().count() == 1
    assert Campaign.get_by_id(campaign.id).replan_requested_at is not None  # runs again
    monkeypatch.setattr(campaigns_module, "_replan_now", real)
    assert run_pending_replans(engine) == 1
    assert Campaign.get_by_id(campaign.id).replan_requested_at is None


def test_activation_refuses_a_text_longer_than_its_message_type_allows(engine):
    # 420 characters: too long for a digital access key (400), fine for instructions (2000).
    body = "Order {{ order_id }}: your key is QW12-ER34. " + "Keep this message safe. " * 16
    key = Template.create(name="Key", channel="messaging", message_type="createDigitalAccessKey")
    version = TemplateVersion.create(template=key, number=1)
    TemplateVariant.create(version=version, language="en", body=body)
    step = dict(REVIEW_STEP, name="Licence key", message_type="createDigitalAccessKey")
    campaign = create_campaign(engine, "Keys", [dict(step, template=key.id)])
    with pytest.raises(CampaignError) as err:
        set_status(engine, campaign, "active")
    (problem,) = [p for p in err.value.problems if "FU-LENGTH" in p]
    assert problem.startswith("step 1 (Licence key)")
    assert "createDigitalAccessKey allows 400" in problem and "the en text is 4" in problem
    assert Campaign.get_by_id(campaign.id).status == "draft"
    ok = create_campaign(
        engine, "Guide", [dict(REVIEW_STEP, message_type="product_instructions", template=key.id)]
    )
    assert set_status(engine, ok, "active").status == "active"


def test_spelling_errors_block_activation_and_account_names_are_allowed(engine):
    account = SellerAccount.create(name="DE shop", source="demo", marketplaces=["DE"])
    typo = template(
        "Bestellung {{ order_id }}: Bitte lesen Sie die Bedienungsanleitnug vor dem Gebrauch.",
        language="de",
    )
    campaign = create_campaign(
        engine,
        "Anleitung",
        [dict(REVIEW_STEP, message_type="product_instructions", template=typo.id)],
        account=account,
    )
    with pytest.raises(CampaignError) as err:
        set_status(engine, campaign, "active")
    assert "FU-SPELLING" in " ".join(err.value.problems)
    assert "'Bedienungsanleitung'" in " ".join(err.value.problems)

    # "Lumo" is one letter from "Limo": a typo, until the account lists it as its brand.
    brand = template(
        "Bestellung {{ order_id }}: So stellen Sie Ihre Lumo Leuchte ein. Drehen Sie den "
        "Kopf vor dem Festziehen der Schraube.",
        language="de",
    )
    campaign = create_campaign(
        engine,
        "Lumo",
        [dict(REVIEW_STEP, message_type="product_instructions", template=brand.id)],
        account=account,
    )
    with pytest.raises(CampaignError) as err:
        set_status(engine, campaign, "active")
    assert "'Limo'" in " ".join(err.value.problems)
    account.allowed_words = "Lumo\nBrightline"
    account.save()
    assert set_status(engine, Campaign.get_by_id(campaign.id), "active").status == "active"
