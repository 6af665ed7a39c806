"""Saving templates: every save is a new version; old versions never change.

Sent messages keep the version they were rendered from (``Message.template_version``)
and their exact text, so a later edit never rewrites history.
"""

from __future__ import annotations

from .compose import latest_version
from .db import database
from .models import AuditLog, Template, TemplateVariant, TemplateVersion


def variant_dicts(version: TemplateVersion | None) -> dict[str, dict]:
    """A version's variants as ``save_version`` takes them: {language: {subject, body, html}}."""
    if version is None:
        return {}
    return {
        v.language: {"subject": v.subject, "body": v.body, "html": v.html} for v in version.variants
    }


def save_version(
    template: Template,
    variants: dict[str, dict],
    *,
    theme: str | None = None,
    user: str = "",
    note: str = "",
) -> TemplateVersion:
    """Store ``variants`` ({language: {"subject", "body", "html"}}) as the next version.

    ``theme`` is the email layout (``core.themes``) of the new version; ``None`` keeps the
    previous version's theme (none for a first version).
    """
    with database.atomic():
        last = (
            TemplateVersion.select(TemplateVersion.number, TemplateVersion.theme)
            .where(TemplateVersion.template == template)
            .order_by(TemplateVersion.number.desc())
            .first()
        )
        if theme is None:
            theme = last.theme if last is not None else ""
        version = TemplateVersion.create(
            template=template,
            number=(last.number if last is not None else 0) + 1,
            created_by=user,
            note=note,
            theme=theme or "",
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


def save_language(
    template: Template,
    language: str,
    subject: str,
    body: str,
    *,
    html: str | None = None,
    theme: str | None = None,
    user: str = "",
    note: str = "",
) -> TemplateVersion:
    """Save one language's text as the next version; the other languages carry over.

    ``html`` ``None`` keeps that language's own HTML; ``theme`` ``None`` keeps the theme.
    """
    with database.atomic():
        variants = variant_dicts(latest_version(template))
        old_html = variants.get(language, {}).get("html", "")
        variants[language] = {
            "subject": subject,
            "body": body,
            "html": old_html if html is None else html,
        }
        return save_version(template, variants, theme=theme, user=user, note=note)


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
