"""Saving templates: every save is a new version; old versions never change.

Sent messages keep the version they were rendered from (``Message.template_version``)
and their exact text, so a later edit never rewrites history.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import render
from .compose import latest_version
from .db import database
from .library import PLACEHOLDER_EXAMPLES, get_template
from .models import AuditLog, Template, TemplateVariant, TemplateVersion


@dataclass
class TextCheck:
    """A text rendered as a send would render it, or why it cannot be."""

    subject: str = ""
    text: str = ""
    html: str = ""
    errors: list[str] = field(default_factory=list)


def check_text(subject: str, body: str, context: Mapping[str, Any], *, html: str = "") -> TextCheck:
    """Render ``subject``, ``body`` and a variant's own ``html`` with ``context``.

    The one check every editor runs before it saves a text: an unknown placeholder, a
    misspelt filter or broken syntax is an error naming it (``"Body: unknown placeholder
    'buyer_email' on line 1 — did you mean 'buyer_name'?"``), and a text with errors
    must not be stored. ``context`` is a real order's placeholder values, or example
    values when there is no order; every placeholder Followup knows counts as known.
    """
    result = TextCheck()
    available = set(context) | set(PLACEHOLDER_EXAMPLES)
    for label, source in (("Subject", subject), ("Body", body)):
        result.errors.extend(f"{label}: {e}" for e in render.check_placeholders(source, available))
    if result.errors:
        return result
    try:
        result.subject = render.render(subject, context) if subject else ""
    except render.TemplateError as exc:
        result.errors.append(f"Subject: {exc}")
    try:
        result.text = render.render(body, context)
    except render.TemplateError as exc:
        result.errors.append(f"Body: {exc}")
    if html and not result.errors:
        try:
            result.html = render.render_html(html, context)
        except render.TemplateError as exc:
            result.errors.append(f"HTML: {exc}")
    return result


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
