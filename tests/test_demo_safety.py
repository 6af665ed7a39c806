"""Demo data sends nothing: the demo account's campaigns (a preset created on it included)
and any campaign's messages to demo orders go through the dry-run sender, the demo
account never turns into an error, and ``followup doctor`` passes after "Load demo data"."""

from __future__ import annotations

import pytest

from core.campaigns import create_campaign, create_from_preset, set_status
from core.demo import load_demo
from core.dispatch import dispatch_due
from core.models import Message, SellerAccount
from core.planning_bulk import replan
from tests.support.campaigns import REVIEW_STEP
from tests.test_cli import followup

PLUGINS = {"enabled": ["amazon", "demo", "sequences"], "entrypoints": False}
LIVE_REVIEW = dict(REVIEW_STEP, sender="amazon_review", delay_days=0)


@pytest.fixture
def demo_engine(make_engine):
    engine = make_engine(plugins=PLUGINS)
    load_demo(engine)
    return engine


def demo_account():
    return SellerAccount.get(SellerAccount.is_demo == True)  # noqa: E712


def assert_nothing_left_the_machine(engine):
    messages = list(Message.select())
    assert messages, "the test needs messages"
    assert {m.sender for m in messages} == {"dry_run"}
    assert all(m.dry_run for m in messages)
    account = demo_account()
    assert account.status != "error", account.status_message


def test_a_preset_created_on_the_demo_account_sends_through_the_dry_run_sender(demo_engine):
    engine = demo_engine
    preset = next(p for p in engine.presets("US", "FBA") if "Request a Review" in p.label)
    assert any(step["sender"] == "amazon_review" for step in preset.steps)
    campaign = create_from_preset(engine, preset, account=demo_account())
    set_status(engine, campaign, "active", backlog_days=60)
    mine = Message.select().where(Message.campaign == campaign.id)
    assert mine.count() > 0
    dispatch_due(engine)
    assert_nothing_left_the_machine(engine)


def test_a_live_campaign_for_every_account_sends_demo_orders_as_dry_runs(demo_engine):
    engine = demo_engine
    campaign = create_campaign(engine, "Reviews everywhere", [LIVE_REVIEW])
    set_status(engine, campaign, "active", backlog_days=60)
    planned = Message.select().where(Message.campaign == campaign.id).count()
    assert planned > 0
    states = dispatch_due(engine).states
    assert states.get("sent", 0) > 0
    assert_nothing_left_the_machine(engine)
    # Re-planning (set-based, then again) neither releases the demo dry runs nor plans
    # them a second time.
    replan(engine)
    replan(engine)
    assert Message.select().where(Message.campaign == campaign.id).count() == planned
    dispatch_due(engine)
    assert_nothing_left_the_machine(engine)


def test_doctor_passes_after_demo_data_and_a_preset_on_the_demo_account(install):
    from core.config import load_settings
    from core.engine import Engine

    assert followup(install, "init").returncode == 0
    assert followup(install, "demo").returncode == 0
    engine = Engine(load_settings(install / "config.toml"))
    try:
        preset = next(p for p in engine.presets("US", "FBA") if "Request a Review" in p.label)
        campaign = create_from_preset(engine, preset, account=demo_account())
        set_status(engine, campaign, "active", backlog_days=60)
    finally:
        engine.close()
    assert followup(install, "dispatch").returncode == 0
    doctor = followup(install, "doctor")
    assert doctor.returncode == 0, doctor.stdout
    assert "all checks passed" in doctor.stdout


@pytest.fixture
def install(tmp_path):
    from tests.test_cli import REPO

    config = (REPO / "config.toml").read_text().replace("entrypoints = true", "entrypoints = false")
    (tmp_path / "config.toml").write_text(config)
    return tmp_path
