""" "Load demo data": a demo seller, its orders, and one campaign planned over them.

Everything made here is labelled demo and sends through the dry-run sender only.
"""

from __future__ import annotations

import logging

from .accounts import mark_account
from .config import ConfigError
from .dispatch import dispatch_due
from .ingest import ingest_from_source
from .models import Campaign, SellerAccount, Step

log = logging.getLogger(__name__)

DEMO_ACCOUNT = "Demo seller"
DEMO_CAMPAIGN = "Demo: request a review 5 days after delivery"


def load_demo(engine) -> dict:
    """Create (or refresh) the demo account and campaign; returns counts for the UI."""
    if "demo" not in engine.sources:
        raise ConfigError('[plugins] enabled: add "demo" to load demo data.')
    account, _ = SellerAccount.get_or_create(
        name=DEMO_ACCOUNT,
        defaults=dict(source="demo", is_demo=True, region="", marketplaces=["US", "DE", "JP"]),
    )
    campaign = Campaign.get_or_none(Campaign.name == DEMO_CAMPAIGN)
    if campaign is None:
        campaign = Campaign.create(
            name=DEMO_CAMPAIGN,
            status="active",
            account=account,
            description="Created by 'Load demo data'. Sends through the dry-run sender only.",
        )
        Step.create(
            campaign=campaign,
            position=1,
            name="Request a review",
            trigger="delivered",
            delay_days=5,
            sender="dry_run",
            message_type="review_request",
            rules=[{"rule": "not_cancelled_returned_refunded", "params": {}}],
            window_start_hour=9,
            window_end_hour=18,
        )
    if account.status == "error":
        # Demo data needs no credentials and sends nothing (core.decide.effective_sender):
        # an error left from before that guard must not stay on the dashboard.
        mark_account(account, "ok", "")
    ingested = ingest_from_source(engine, account.id)
    result, planned = ingested.stored, ingested.planned
    sent = dispatch_due(engine)
    log.info("demo data: %s orders, %s planned", result.created, planned.planned)
    return {
        "orders": result.created + result.updated + result.unchanged,
        "planned": planned.planned,
        "waiting": planned.waiting,
        "excluded": planned.excluded,
        "dispatched": sent.claimed,
    }
