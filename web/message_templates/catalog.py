"""The seller's templates as the Templates pages list them: channels, latest versions,
library copies, and recent orders to preview on."""

from __future__ import annotations

from peewee import fn, prefetch

from core.models import Order, SellerAccount, Template, TemplateVariant, TemplateVersion

CHANNEL_LABELS = {
    "email": "Email (Buyer-Seller Messaging)",
    "messaging": "Amazon Messaging API",
    "solicitation": "Request a Review (Amazon's own text)",
}


def has_body(template) -> bool:
    """Request a Review sends Amazon's fixed text: such templates have no body to edit."""
    return template.channel != "solicitation"


def latest_versions() -> dict[int, TemplateVersion]:
    """Every template's latest version by template id, variants prefetched (two queries)."""
    newest = TemplateVersion.alias()
    numbers = newest.select(
        newest.template.alias("template_id"), fn.MAX(newest.number).alias("number")
    ).group_by(newest.template)
    versions = TemplateVersion.select().join(
        numbers,
        on=(
            (TemplateVersion.template == numbers.c.template_id)
            & (TemplateVersion.number == numbers.c.number)
        ),
    )
    return {v.template_id: v for v in prefetch(versions, TemplateVariant)}


def library_copies(templates=None) -> dict[str, Template]:
    """The seller's copies of shipped library templates, by library key.

    ``templates`` are the already loaded templates to look among (else one query).
    """
    if templates is None:
        templates = Template.select().where(Template.library_key != "")
    return {t.library_key: t for t in templates if t.library_key}


def recent_orders(limit: int = 10) -> list[Order]:
    """The newest orders of any account, to preview a template on real data."""
    return list(
        Order.select(Order, SellerAccount)
        .join(SellerAccount)
        .order_by(Order.purchased_at.desc(), Order.id.desc())
        .limit(limit)
    )
