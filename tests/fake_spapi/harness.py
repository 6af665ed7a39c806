"""Helpers for tests that drive the Amazon plugin against the fake over HTTP."""

from __future__ import annotations

from core.models import Campaign, SellerAccount, Step, Template, TemplateVariant, TemplateVersion
from core.services import save_account_credentials

CREDS = {
    "refresh_token": "good-refresh-token",
    "lwa_app_id": "amzn1.app",
    "lwa_client_secret": "s3cret-lwa",
}


def amazon_settings(fake, **extra) -> dict:
    """``plugin_settings`` pointing the plugin's library at the fake."""
    values = {"endpoint": fake.url, "lwa_url": fake.url + "/auth/o2/token", "timeout": 1}
    values.update(extra)
    return {"amazon": values}


def connect(engine, *, marketplaces=("DE",), region="EU", creds=None, name="EU seller"):
    """A seller account with encrypted credentials."""
    account = SellerAccount.create(
        name=name, source="amazon", region=region, marketplaces=list(marketplaces)
    )
    save_account_credentials(engine, account, dict(creds or CREDS))
    return account


def review_step(**kw) -> Step:
    campaign = Campaign.create(name="Review", status="active")
    return Step.create(
        campaign=campaign,
        trigger="delivered",
        sender="amazon_review",
        window_start_hour=0,
        window_end_hour=24,
        **kw,
    )


def messaging_step(message_type: str, variants: dict[str, str], *, trigger="delivered") -> Step:
    """An active campaign with one Messaging API step; ``variants``: language -> body."""
    template = Template.create(name=f"T {message_type}", channel="messaging", message_type="")
    version = TemplateVersion.create(template=template, number=1)
    for language, body in variants.items():
        TemplateVariant.create(version=version, language=language, body=body)
    campaign = Campaign.create(name=f"C {message_type}", status="active")
    return Step.create(
        campaign=campaign,
        trigger=trigger,
        sender="amazon_messaging",
        message_type=message_type,
        template=template,
        window_start_hour=0,
        window_end_hour=24,
    )
