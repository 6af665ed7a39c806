"""sequences: FBA and FBM presets per marketplace, created in one click, lint clean,
ending with the one review request, and reaching only the orders they are made for."""

from __future__ import annotations

import pytest

from core import Preset
from core.campaigns import campaign_problems, create_from_preset, set_status
from core.compose import template_findings
from core.library import LANGUAGES as SHIPPED_LANGUAGES
from core.models import Decision, Message, Order, Step
from core.planning import is_review_request, plan_orders
from core.store import store_orders
from plugins.sequences import default_sequences, sku_list, skus
from plugins.sequences.presets import LIBRARY_LANGUAGES, presets_for, review_delay
from tests.conftest import order_data

PLUGINS = ["amazon", "demo", "email", "sequences"]
# What Amazon already sends or forbids outright (docs/amazon-rules.md §3, §4): never in a preset.
FORBIDDEN_TYPES = {
    "thank_you",
    "order_confirmation",
    "shipping_confirmation",
    "shipment_confirmation",
    "delivery_confirmation",
    "refund_confirmation",
    "marketing",
}


@pytest.fixture
def seq_engine(make_engine):
    return make_engine(plugins={"enabled": PLUGINS})


@pytest.fixture
def engine(seq_engine):
    """conftest's ``account`` (a seller in US, DE and JP) is created in this engine."""
    return seq_engine


def all_presets(engine):
    return [
        (code, channel, preset)
        for code in sorted(engine.marketplaces)
        for channel in ("FBA", "FBM")
        for preset in engine.presets(code, channel)
    ]


def test_library_languages_match_the_shipped_library():
    assert set(LIBRARY_LANGUAGES) == set(SHIPPED_LANGUAGES)


def test_every_marketplace_and_channel_has_presets(seq_engine):
    for code in seq_engine.marketplaces:
        for channel in ("FBA", "FBM"):
            presets = seq_engine.presets(code, channel)
            assert presets, f"no preset for {code} {channel}"
            assert all(p.marketplace == code and p.fulfillment == channel for p in presets)
            assert len({p.name for p in presets}) == len(presets)
    names = {p.name for _, _, p in all_presets(seq_engine)}
    assert {"fba-instructions-review-de", "fbm-custom-bulky-review-jp", "fba-review-nl"} <= names


def test_every_preset_creates_a_lint_clean_campaign_ending_with_the_review(seq_engine):
    checked = 0
    for code, channel, preset in all_presets(seq_engine):
        campaign = create_from_preset(seq_engine, preset)
        label = f"{code} {channel} {preset.name}"
        assert (campaign.status, campaign.preset) == ("draft", preset.name)
        assert campaign.description == preset.description and campaign.name == preset.label
        assert campaign_problems(seq_engine, campaign) == [], label
        steps = list(campaign.steps.order_by(Step.position))
        assert len(steps) == len(preset.steps)
        reviews = [s for s in steps if is_review_request(seq_engine, s)]
        assert reviews == [steps[-1]], f"{label}: the review request must be the last step"
        for step in steps:
            assert step.message_type not in FORBIDDEN_TYPES, label
            # Every step reaches only this marketplace's orders of this channel.
            rules = {r["rule"]: r.get("params", {}) for r in step.rules}
            assert rules["marketplace_in"] == {"marketplaces": code}, label
            assert rules["fulfillment"] == {"fulfillment": channel}, label
            # Not even a warning (spelling, language) in any language variant.
            findings = template_findings(seq_engine, step)
            assert findings == [], f"{label}: {findings}"
            if step.template_id is not None:
                languages = {v.language for v in step.template.versions.get().variants}
                mkt = seq_engine.marketplace(code)
                assert set(mkt.languages) & languages, f"{label}: no text in the buyer language"
            checked += 1
    assert checked > 100


def test_fba_has_instructions_around_delivery_then_the_review(seq_engine):
    preset = next(p for p in seq_engine.presets("DE", "FBA") if p.name.startswith("fba-instr"))
    first, last = preset.steps
    assert (first["trigger"], first["delay_days"]) == ("delivered", 0)
    assert first["template"] == "product_instructions" and first["sender"] == "email"
    assert last["sender"] == "amazon_review" and last["anchor"] == "review_window"
    assert "German" in preset.description


def test_fbm_has_customization_and_bulky_delivery_then_the_review(seq_engine):
    preset = next(p for p in seq_engine.presets("JP", "FBM") if "custom" in p.name)
    types = [s["message_type"] for s in preset.steps]
    assert types == [
        "confirmCustomizationDetails",
        "createConfirmDeliveryDetails",
        "review_request",
    ]
    lists = [
        r["params"]["list"] for s in preset.steps[:2] for r in s["rules"] if r["rule"] == "sku_list"
    ]
    assert lists == ["customized", "bulky"]
    assert "Japanese" in preset.description


def test_delays_suit_the_marketplace_and_channel():
    assert review_delay("DE", "FBM") == 2 and review_delay("DE", "FBA") == 3
    assert review_delay("JP", "FBM") == 3 and review_delay("AU", "FBM") == 5
    assert review_delay("SG", "FBA") > review_delay("SG", "FBM")


def test_marketplaces_without_library_texts_get_only_the_review(seq_engine):
    for code in ("NL", "SE", "PL", "TR", "BR"):
        for channel in ("FBA", "FBM"):
            presets = seq_engine.presets(code, channel)
            assert [len(p.steps) for p in presets] == [1], code
            assert "no " in presets[0].description and "texts yet" in presets[0].description
    # Belgium's French and the UAE's English are in the library.
    assert len(seq_engine.presets("BE", "FBM")) == 2
    assert len(seq_engine.presets("AE", "FBA")) == 2


def test_without_the_amazon_senders_the_review_goes_by_email(seq_engine):
    mkt = seq_engine.marketplace("US")
    senders = {k: v for k, v in seq_engine.senders.items() if not k.startswith("amazon_")}
    fba = presets_for(mkt, "FBA", senders)
    assert [p.name for p in fba] == ["fba-review-us", "fba-instructions-review-us"]
    for preset in fba:
        last = preset.steps[-1]
        assert (last["sender"], last["template"]) == ("email", "review_request")
    # FBM's free-text steps need the Messaging API: only the review preset is offered.
    assert [p.name for p in presets_for(mkt, "FBM", senders)] == ["fbm-review-us"]
    campaign = create_from_preset(seq_engine, fba[1])
    assert campaign_problems(seq_engine, campaign) == []


def test_no_sender_for_a_review_means_no_preset(seq_engine):
    mkt = seq_engine.marketplace("DE")
    assert presets_for(mkt, "FBA", {"dry_run": object()}) == []
    assert presets_for(mkt, "XYZ", seq_engine.senders) == []


def test_default_sequences_hook_and_per_marketplace_toggle(make_engine):
    engine = make_engine(
        plugins={"enabled": PLUGINS}, **{"plugins.marketplaces": {"sequences": ["DE"]}}
    )
    presets = default_sequences(engine, "US", "FBA")
    assert presets and all(isinstance(p, Preset) for p in presets)
    assert default_sequences(engine, "XX", "FBA") == []
    assert engine.presets("DE", "FBA") and engine.presets("US", "FBA") == []


def test_sku_lists_parse_like_a_seller_types_them():
    assert skus("sofa-3, DESK-9\nlamp-1  ") == {"SOFA-3", "DESK-9", "LAMP-1"}
    assert skus(["a", " ", "b"]) == {"A", "B"} and skus(None) == set()


def test_sku_list_rule_uses_the_step_or_the_marketplace_setting(seq_engine, account):
    store_orders(account, [order_data("DE", sku="SOFA-3SITZ-GR")], "test")
    order = Order.get()
    assert sku_list(seq_engine, order, {"list": "bulky"}) == (
        "rule: no SKUs on the 'bulky' list yet (sequences settings for DE)"
    )
    seq_engine.set_plugin_setting("sequences", "bulky_skus", "sofa-3sitz-gr\nTISCH-1", "DE")
    assert sku_list(seq_engine, order, {"list": "bulky"}) is None
    assert sku_list(seq_engine, order, {"list": "bulky", "values": "TISCH-1"}) == (
        "rule: SOFA-3SITZ-GR not on the 'bulky' list"
    )
    assert "unknown SKU list" in sku_list(seq_engine, order, {"list": "heavy"})
    assert seq_engine.rules["sku_list"].check is sku_list
    page = seq_engine.settings_pages["sequences"]
    assert {f.key for f in page.fields} == {"bulky_skus", "customized_skus", "manual_skus"}


def test_fbm_preset_plans_only_for_listed_products_of_its_marketplace(seq_engine, account):
    seq_engine.set_plugin_setting("sequences", "bulky_skus", "SOFA-1", "DE")
    seq_engine.set_plugin_setting("sequences", "customized_skus", "MUG-NAME", "DE")
    sofa = order_data("DE", sku="SOFA-1", delivered_days_ago=3)
    mug = order_data("DE", sku="MUG-NAME", delivered_days_ago=3)
    us_sofa = order_data("US", sku="SOFA-1", delivered_days_ago=3)
    fba = order_data("DE", sku="SOFA-1", fulfillment="FBA", delivered_days_ago=3)
    ids = store_orders(account, [sofa, mug, us_sofa, fba], "test").changed_ids
    preset = next(p for p in seq_engine.presets("DE", "FBM") if "custom" in p.name)
    campaign = create_from_preset(seq_engine, preset)
    set_status(seq_engine, campaign, "test")
    plan_orders(seq_engine, ids)

    def planned(data) -> list[str]:
        rows = (
            Message.select(Message, Step)
            .join(Step)
            .switch(Message)
            .join(Order)
            .where(Order.order_id == data.order_id)
            .order_by(Step.position)
        )
        return [m.step.message_type for m in rows]

    assert planned(sofa) == ["createConfirmDeliveryDetails", "review_request"]
    assert planned(mug) == ["confirmCustomizationDetails", "review_request"]
    assert planned(us_sofa) == [] and planned(fba) == []
    reasons = {
        d.reason for d in Decision.select().join(Order).where(Order.order_id == us_sofa.order_id)
    }
    assert reasons == {"rule: marketplace US not in DE"}
    sofa_custom = (
        Decision.select()
        .join(Order)
        .switch(Decision)
        .join(Step)
        .where((Order.order_id == sofa.order_id) & (Step.position == 1))
        .get()
    )
    assert sofa_custom.reason == "rule: SOFA-1 not on the 'customized' list"
    assert sofa_custom.decided_by == "sku_list"
