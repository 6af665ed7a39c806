"""Activation: "new orders only" by default, a chosen backlog, and the preview that says
what going live would send, all decided in core (core.activation, core.decide)."""

from __future__ import annotations

import re

import pytest

from core.activation import preview
from core.campaigns import CampaignError, create_campaign, set_status
from core.dispatch import dispatch_due
from core.models import AuditLog, Campaign, Decision, Message
from core.planning import plan_all, plan_orders
from core.planning_bulk import replan
from core.store import store_orders
from tests.conftest import order_data
from tests.support.campaigns import REVIEW_STEP


def orders(account, *datas):
    return store_orders(account, list(datas), "test").changed_ids


def backlog(account):
    """Three delivered orders placed 3, 12 and 20 days ago, all within Amazon's review
    window: only the cut-off keeps them out."""
    return orders(
        account,
        order_data("US", days_ago=3, delivered_days_ago=1),
        order_data("US", days_ago=12, delivered_days_ago=8),
        order_data("US", days_ago=20, delivered_days_ago=15),
    )


def test_new_orders_only_sends_nothing_to_the_backlog_and_says_why(engine, account):
    backlog(account)
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active")  # the default: new orders only
    assert Message.select().count() == 0
    assert dispatch_due(engine).claimed == 0
    reasons = {d.reason for d in Decision.select()}
    assert len(reasons) == 1
    (reason,) = reasons
    assert reason.startswith("excluded: ordered before the campaign's start (")
    assert {d.decided_by for d in Decision.select()} == {"activation"}
    assert "orders from" in AuditLog.get(AuditLog.action == "campaign_active").detail
    # An order placed after the activation is the campaign's.
    fresh = order_data("US", days_ago=-0.01, delivered_days_ago=-0.02)
    new = orders(account, fresh)
    plan_orders(engine, new)
    assert Message.select().count() == 1


def test_backlog_of_n_days_takes_only_those_orders(engine, account):
    backlog(account)
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active", backlog_days=14)
    assert Message.select().count() == 2  # placed 3 and 12 days ago, not 20
    # Delivered 8 days ago: due now; delivered yesterday: once Amazon's window opens.
    assert dispatch_due(engine).states.get("sent") == 1
    excluded = Decision.get(Decision.outcome == "excluded")
    assert "before the campaign's start" in excluded.reason


def _no_python(*args, **kwargs):
    raise AssertionError("planned order by order, not set-based")


@pytest.fixture(params=["sqlite", "postgresql"])
def any_engine(request, make_engine):
    if request.param == "sqlite":
        return make_engine()
    return make_engine(database={"url": request.getfixturevalue("pg_url")})


def test_the_set_based_re_plan_applies_the_same_cut_off(any_engine):
    from core.models import SellerAccount

    engine = any_engine
    account = SellerAccount.create(name="Seller", source="demo", marketplaces=["US"])
    backlog(account)
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active", backlog_days=14)
    Decision.delete().execute()
    Message.delete().execute()
    plan_all(engine)  # order by order, through core.decide
    python = {(d.order_id, d.outcome, d.reason) for d in Decision.select()}
    assert {d.outcome for d in Decision.select()} == {"planned", "excluded"}
    Decision.delete().execute()
    Message.delete().execute()
    with pytest.MonkeyPatch.context() as patch:  # the SQL form, not the per-order planner
        patch.setattr("core.planning_bulk._python", _no_python)
        replan(engine)
    assert {(d.order_id, d.outcome, d.reason) for d in Decision.select()} == python
    assert Message.select().count() == 2


def test_resuming_keeps_the_cut_off_and_a_paused_backlog_stays_out(engine, account):
    backlog(account)
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    set_status(engine, campaign, "active")
    cutoff = Campaign.get_by_id(campaign.id).orders_from
    set_status(engine, campaign, "paused")
    set_status(engine, campaign, "active")
    assert Campaign.get_by_id(campaign.id).orders_from == cutoff
    assert Message.select().count() == 0


def test_a_bad_backlog_is_refused_naming_the_field_and_changes_nothing(engine, account):
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    for bad in (-1, 400, "lots"):
        with pytest.raises(CampaignError) as err:
            set_status(engine, campaign, "active", backlog_days=bad)
        assert str(err.value).startswith("days:")
        assert Campaign.get_by_id(campaign.id).status == "draft"


def test_preview_counts_what_activation_then_plans(engine, account):
    backlog(account)
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    new_only = preview(engine, campaign)
    assert (new_only.send_now, new_only.later, new_only.orders_before) == (0, 0, 3)
    report = preview(engine, campaign, 14)
    assert (report.send_now, report.later) == (1, 1)
    assert (report.orders_after, report.orders_before) == (2, 1)
    assert [r.due_at for r in report.sample] == sorted(r.due_at for r in report.sample)
    assert report.sample[0].order.purchased_at < report.sample[1].order.purchased_at
    assert all(r.due_at and r.reason for r in report.sample)
    assert Message.select().count() == 0 and Campaign.get_by_id(campaign.id).status == "draft"
    set_status(engine, campaign, "active", backlog_days=14)
    assert dispatch_due(engine).states.get("sent") == report.send_now == 1


def test_preview_warns_of_another_active_review_campaign_on_the_same_orders(engine, account):
    backlog(account)
    first = create_campaign(engine, "Reviews A", [REVIEW_STEP])
    set_status(engine, first, "active", backlog_days=30)
    second = create_campaign(engine, "Reviews B", [REVIEW_STEP])
    report = preview(engine, second, 30)
    assert [(o.campaign.name, o.orders) for o in report.overlaps] == [("Reviews A", 3)]
    instructions = create_campaign(
        engine, "Manual", [dict(REVIEW_STEP, message_type="product_instructions")]
    )
    assert preview(engine, instructions, 30).overlaps == []


# -- the web page asks; core applies ---------------------------------------------------------


def test_web_activation_defaults_to_new_orders_and_refuses_a_bad_day_count(
    signed_in, engine, account
):
    import html

    from tests.support.web import csrf_token

    backlog(account)
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    url = f"/campaigns/{campaign.id}/status"
    page = html.unescape(signed_in.get(url + "?to=active").get_data(as_text=True))
    text = " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert 'value="new" checked' in page and "3 older orders are left out" in text
    bad = signed_in.get(url + "?to=active&orders=days&days=400")
    assert bad.status_code == 422
    assert "days: enter a whole number from 0 to 365" in bad.get_data(as_text=True)
    token = csrf_token(signed_in, url + "?to=active")
    refused = signed_in.post(
        url,
        data={
            "to": "active",
            "confirm": "yes",
            "orders": "days",
            "days": "-3",
            "csrf_token": token,
        },
    )
    assert refused.status_code == 422 and Campaign.get_by_id(campaign.id).status == "draft"
    done = signed_in.post(url, data={"to": "active", "confirm": "yes", "csrf_token": token})
    assert done.status_code == 302 and Message.select().count() == 0
    assert Campaign.get_by_id(campaign.id).orders_from is not None


def test_preview_of_many_orders_says_it_counted_the_newest(engine, account):
    backlog(account)
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    report = preview(engine, campaign, 30, limit=1)
    assert report.truncated and (report.orders_checked, report.orders_after) == (1, 3)
