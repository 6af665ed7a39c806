"""Rule parameters are checked when a step is saved, and a step whose stored rules cannot
run never takes the step editor, the dry run or activation down with it."""

from __future__ import annotations

import html
import re

import pytest

from core.campaigns import CampaignError, create_campaign, dry_run, set_status, update_step
from core.models import Campaign, Message, Order, Step
from core.planning import plan_orders
from core.store import store_orders
from tests.conftest import order_data
from tests.support.campaigns import REVIEW_STEP, step_form
from tests.support.web import csrf_token


def rules(name: str, **params) -> list[dict]:
    return [{"rule": name, "params": params}]


def problems_of(engine, name: str, params: dict) -> dict[str, str]:
    return engine.rules[name].validate(params) or {}


# -- the Rule contract: every rule says what is wrong with its parameters -----------------


@pytest.mark.parametrize(
    ("rule", "params", "key", "text"),
    [
        ("order_total", {"min": "lots"}, "min", "'lots' is not a number"),
        ("order_total", {"max": "nan"}, "max", "is not a number"),
        ("order_total", {"min": "50", "max": "10"}, "max", "below min"),
        ("order_total", {"minimum": "5"}, "minimum", "min, max"),
        ("item_count", {"min": "two"}, "min", "'two' is not a whole number"),
        ("item_count", {"min": "3", "max": "1"}, "max", "below min"),
        ("placed_after", {"date": "yesterday"}, "date", "'yesterday' is not a date"),
        ("placed_after", {"date": "2026-01-31T00:00+02:00"}, "date", "time zone"),
        ("marketplace_in", {"marketplaces": "US XX"}, "marketplaces", "unknown marketplace XX"),
        ("fulfillment", {"fulfillment": "Prime"}, "fulfillment", "FBA or FBM"),
        ("buyer_type", {"type": "new"}, "type", "first or repeat"),
        ("prime", {"value": "maybe"}, "value", "yes or no"),
        ("ship_country", {"exclude": "Germany"}, "exclude", "two-letter country code"),
        ("sku_include", {"value": "MUG-1"}, "value", "values"),
        ("not_cancelled_returned_refunded", {"days": "3"}, "days", "takes no parameters"),
    ],
)
def test_each_rule_names_the_bad_parameter(engine, rule, params, key, text):
    found = problems_of(engine, rule, params)
    assert key in found, found
    assert text in found[key]


@pytest.mark.parametrize(
    ("rule", "params"),
    [
        ("order_total", {"min": "10", "max": "99.5"}),
        ("order_total", {"min": 10}),
        ("item_count", {"min": "1", "max": "3"}),
        ("placed_after", {"date": "2026-01-31"}),
        ("marketplace_in", {"marketplaces": "us de"}),
        ("marketplace_in", {"marketplaces": ["US", "DE"]}),
        ("fulfillment", {"fulfillment": "fbm"}),
        ("fulfillment", {"fulfillment": "AFN"}),
        ("buyer_type", {"type": "repeat"}),
        ("business", {"value": "no"}),
        ("ship_country", {"include": "DE AT", "exclude": "CH"}),
        ("sku_exclude", {"values": "MUG-1, LAMP-2"}),
        ("buyer_not_blocked", {}),
    ],
)
def test_good_parameters_pass(engine, rule, params):
    assert not problems_of(engine, rule, params)


def test_every_registered_rule_can_validate(make_engine):
    engine = make_engine(plugins={"enabled": ["amazon", "demo", "sequences"]})
    missing = [name for name, rule in engine.rules.items() if rule.validate is None]
    assert missing == []
    assert "bulky" in problems_of(engine, "sku_list", {"list": "heavy"})["list"]


def test_a_check_on_a_bad_stored_value_raises_a_clear_value_error(engine, account):
    store_orders(account, [order_data("US")], "test")
    with pytest.raises(ValueError, match="min: 'lots' is not a number"):
        engine.rules["order_total"].check(engine, Order.get(), {"min": "lots"})


def test_afn_is_read_as_fba_not_as_excluding_everything(engine, account):
    ids = store_orders(
        account, [order_data("US", fulfillment="FBA", delivered_days_ago=7)], "test"
    ).changed_ids
    campaign = create_campaign(
        engine, "FBA reviews", [dict(REVIEW_STEP, rules=rules("fulfillment", fulfillment="AFN"))]
    )
    set_status(engine, campaign, "active", backlog_days=30)
    plan_orders(engine, ids)
    assert Message.select().count() == 1


# -- saving a step refuses what its rules cannot run ---------------------------------------


def test_creating_a_step_with_a_bad_value_is_refused_with_the_field_named(engine):
    with pytest.raises(CampaignError) as err:
        create_campaign(engine, "Big", [dict(REVIEW_STEP, rules=rules("order_total", min="lots"))])
    assert "step 1: rules › Order total between › min: 'lots' is not a number" in (
        err.value.problems
    )
    assert Campaign.select().count() == 0


def test_updating_a_step_with_bad_rules_stores_nothing(engine):
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    step = campaign.steps.get()
    with pytest.raises(CampaignError) as err:
        update_step(engine, step, {"rules": rules("placed_after", date="yesterday")})
    assert any("Order placed after › date" in p for p in err.value.problems)
    assert Step.get_by_id(step.id).rules == []


def store_bad_rules(campaign, params=None):
    """Rules as an older version let them be saved: written straight to the database."""
    Step.update(rules=rules("order_total", **(params or {"min": "lots"}))).where(
        Step.campaign == campaign
    ).execute()


def test_activation_with_stored_bad_rules_is_refused_and_the_status_unchanged(engine, account):
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    store_bad_rules(campaign)
    with pytest.raises(CampaignError) as err:
        set_status(engine, campaign, "active", backlog_days=30)
    assert any("min: 'lots' is not a number" in p for p in err.value.problems)
    assert Campaign.get_by_id(campaign.id).status == "draft"
    assert Message.select().count() == 0


def test_an_activation_whose_re_plan_fails_leaves_the_status_as_it_was(
    engine, account, monkeypatch
):
    import core.campaigns

    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])

    def broken(engine, campaign):
        raise RuntimeError("disk full")

    monkeypatch.setattr(core.campaigns, "replan_campaign", broken)
    with pytest.raises(RuntimeError):
        set_status(engine, campaign, "active", backlog_days=30)
    assert Campaign.get_by_id(campaign.id).status == "draft"


def test_dry_run_with_stored_bad_rules_reports_the_problem(engine, account):
    store_orders(account, [order_data("US", delivered_days_ago=7)], "test")
    campaign = create_campaign(engine, "Reviews", [REVIEW_STEP])
    store_bad_rules(campaign)
    report = dry_run(engine, campaign)
    assert any("min: 'lots' is not a number" in p for p in report.problems)
    assert report.would_send == 0


# -- the web step editor, dry run and activation --------------------------------------------


@pytest.fixture
def web_campaign(signed_in, engine, account):
    store_orders(account, [order_data("US", delivered_days_ago=d) for d in (3, 7)], "test")
    return create_campaign(engine, "Reviews", [REVIEW_STEP])


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("rule", "params", "shown"),
    [
        ("order_total", {"min": "lots"}, "min: 'lots' is not a number"),
        ("item_count", {"min": "two"}, "min: 'two' is not a whole number"),
        ("placed_after", {"date": "yesterday"}, "date: 'yesterday' is not a date"),
        ("marketplace_in", {"marketplaces": ["XX"]}, "unknown marketplace XX"),
        ("order_total", {"max": "10", "min": "50"}, "max: 10 is below min 50"),
        ("fulfillment", {"fulfillment": "AFNX"}, "fulfillment: 'AFNX' is not FBA or FBM"),
    ],
)
def test_step_editor_refuses_bad_rule_values_next_to_the_control(
    signed_in, web_campaign, rule, params, shown
):
    step = web_campaign.steps.get()
    url = f"/campaigns/{web_campaign.id}/steps/{step.id}"
    typed = {f"p1.{key}": value for key, value in params.items()}
    form = step_form(step, rule=[rule, ""], csrf_token=csrf_token(signed_in, url), **typed)
    response = signed_in.post(url, data=form)
    page = page_text(response)
    assert response.status_code == 422
    row = re.search(r'<p class="field-error" id="params-1-error">([^<]*)</p>', page)
    assert row and shown in row.group(1), page
    key = next(iter(params))
    control = re.search(rf'<(?:input|select|textarea) id="p1-{key}"[^>]*>', page).group(0)
    assert 'aria-invalid="true"' in control  # the control named in the message is marked
    assert Step.get_by_id(step.id).rules == []


def test_typed_rule_values_are_saved_as_the_rules_read_them(signed_in, web_campaign):
    step = web_campaign.steps.get()
    url = f"/campaigns/{web_campaign.id}/steps/{step.id}"
    form = step_form(
        step,
        rule=["marketplace_in", "fulfillment", "order_total", "prime", "placed_after", ""],
        csrf_token=csrf_token(signed_in, url),
        **{
            "p1.marketplaces": ["US", "DE"],
            "p2.fulfillment": "FBM",
            "p3.min": "10",
            "p3.max": "",
            "p4.value": "no",
            "p5.date": "2026-01-31",
        },
    )
    assert signed_in.post(url, data=form).status_code == 302
    assert Step.get_by_id(step.id).rules == [
        {"rule": "marketplace_in", "params": {"marketplaces": "US DE"}},
        {"rule": "fulfillment", "params": {"fulfillment": "FBM"}},
        {"rule": "order_total", "params": {"min": "10"}},
        {"rule": "prime", "params": {"value": "no"}},
        {"rule": "placed_after", "params": {"date": "2026-01-31"}},
    ]
    page = page_text(signed_in.get(url))
    assert re.search(r'<option value="FBM" selected>', page)
    assert 'type="date" value="2026-01-31"' in page


def test_a_rule_stored_in_the_old_free_text_form_stays_readable(signed_in, web_campaign):
    step = web_campaign.steps.get()
    Step.update(
        rules=[
            {"rule": "fulfillment", "params": {"fulfillment": "AFN"}},
            {"rule": "sku_include", "params": {"values": ["MUG-1", "LAMP-2"]}},
        ]
    ).where(Step.id == step.id).execute()
    page = page_text(signed_in.get(f"/campaigns/{web_campaign.id}/steps/{step.id}"))
    assert re.search(r'<option value="FBA" selected>', page)  # AFN is Amazon's FBA
    assert ">MUG-1, LAMP-2</textarea>" in page


def test_choosing_a_rule_fetches_its_controls(signed_in, web_campaign):
    step = web_campaign.steps.get()
    base = f"/campaigns/{web_campaign.id}/steps/{step.id}/rule-fields"
    fragment = page_text(signed_in.get(f"{base}?row=2&rule=marketplace_in"))
    assert 'name="p2.marketplaces" multiple' in fragment and "<html" not in fragment
    assert signed_in.get(f"{base}?row=0&rule=order_total").status_code == 400


def test_step_editor_and_dry_run_load_with_stored_bad_rules(signed_in, web_campaign):
    store_bad_rules(web_campaign)
    step = web_campaign.steps.get()
    editor = signed_in.get(f"/campaigns/{web_campaign.id}/steps/{step.id}")
    assert editor.status_code == 200
    assert "min: 'lots' is not a number" in page_text(editor)
    report = signed_in.get(f"/campaigns/{web_campaign.id}/dry-run")
    assert report.status_code == 200
    assert "min: 'lots' is not a number" in page_text(report)


def test_activation_in_the_web_is_refused_with_the_problem(signed_in, web_campaign):
    store_bad_rules(web_campaign, {"min": "10", "max": "1"})
    url = f"/campaigns/{web_campaign.id}/status"
    response = signed_in.post(
        url,
        data={
            "to": "active",
            "confirm": "yes",
            "csrf_token": csrf_token(signed_in, url + "?to=active"),
        },
    )
    assert response.status_code == 422
    assert "max: 1 is below min 10" in page_text(response)
    assert Campaign.get_by_id(web_campaign.id).status == "draft"
    assert Message.select().count() == 0
