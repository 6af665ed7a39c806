"""Saving templates: every save is a new version; old versions never change.

Sent messages keep the version they were rendered from (``Message.template_version``)
and their exact text, so a later edit never rewrites history.
"""

from __future__ import annotations

from .db import database
from .models import AuditLog, Template, TemplateVariant, TemplateVersion


def save_version(
    template: Template, variants: dict[str, dict], *, user: str = "", note: str = ""
) -> TemplateVersion:
    """Store ``variants`` ({language: {"subject", "body", "html"}}) as the next version."""
    with database.atomic():
        last = (
            TemplateVersion.select(TemplateVersion.number)
            .where(TemplateVersion.template == template)
            .order_by(TemplateVersion.number.desc())
            .scalar()
        )
        version = TemplateVersion.create(
            template=template, number=(last or 0) + 1, created_by=user, note=note
        )
        for language, v in sorted(variants.items()):
            TemplateVariant.create(
                version=version,
                language=language,
                subject=v.get("subject", ""),
                body=v.get("body", ""),
                html=v.get("html", ""),
            )
        AuditLog.create(
            user=user,
            action="template_saved",
            target=template.name,
            detail=f"version {version.number}",
        )
    return version


def import_from_library(key: str, *, user: str = "") -> Template:
    """Create (or return) the seller's copy of a shipped library template."""
    from .library import get_template

    existing = Template.select().where(Template.library_key == key).first()
    if existing is not None:
        return existing
    item = get_template(key)
    if item is None:
        raise ValueError(f"no library template {key!r}")
    template = Template.create(
        name=item.name, channel=item.channel, message_type=item.message_type, library_key=key
    )
    save_version(
        template,
        {lang: {"subject": v.subject, "body": v.body} for lang, v in item.variants.items()},
        user=user,
        note="imported from the template library",
    )
    return template
