"""The Templates list (the seller's templates and the shipped library, by channel) and
the editor, with its placeholder palette and live preview.

The editor works on one language variant at a time; saving always creates a new version
(``core.templates.save_version``) holding every language, so a sent message keeps the
exact version it was rendered from. Versions, diffs and the test send live in
``versions``, email themes in ``themes``.
"""

from __future__ import annotations

from flask import (
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from core import themes
from core.compose import language_variant, latest_version
from core.library import LANGUAGES, load_library
from core.models import Order, Template, TemplateVersion
from core.templates import import_from_library, save_language, variant_dicts

from ..audit import audit
from ..context import engine
from ..converters import is_id
from ..security import current_user, requires
from .access import template_or_404
from .blueprint import bp
from .catalog import CHANNEL_LABELS, has_body, latest_versions, library_copies, recent_orders
from .framing import framed
from .palette import palette as placeholder_palette
from .preview import Preview
from .preview import preview as render_preview


def _languages(version: TemplateVersion | None) -> list[str]:
    return sorted(v.language for v in version.variants) if version else []


@bp.route("/")
def index():
    """The seller's templates and the shipped library, by channel, with their languages."""
    templates = list(Template.select().order_by(Template.name))
    version_of = latest_versions()
    mine: dict[str, list] = {}
    for t in templates:
        version = version_of.get(t.id)
        mine.setdefault(t.channel, []).append(
            {"template": t, "version": version, "languages": _languages(version)}
        )
    imported = library_copies(templates)
    library: dict[str, list] = {}
    for item in load_library():
        library.setdefault(item.channel, []).append(
            {"item": item, "languages": sorted(item.variants), "mine": imported.get(item.key)}
        )
    return render_template(
        "templates/index.html",
        mine=mine,
        library=library,
        languages=LANGUAGES,
        channels=CHANNEL_LABELS,
    )


@bp.route("/import/<key>", methods=["POST"])
@requires("editor")
def import_template(key: str):
    """Copy a shipped library template into the seller's templates (version 1)."""
    user = current_user().username
    try:
        template = import_from_library(key, user=user)
    except ValueError:
        abort(404, description=f"There is no library template {key!r}.")
    audit("template_imported", template.name, f"from library {key}")
    flash(f"Imported {template.name!r}: edit it below, then use it in a campaign.", "success")
    return redirect(url_for("templates.edit", template_id=template.id))


def _form_values(version: TemplateVersion | None, language: str) -> dict:
    variant = language_variant(version, language) if version is not None else None
    return {
        "language": language,
        "subject": variant.subject if variant else "",
        "body": variant.body if variant else "",
        "theme": version.theme if version else "",
        "order": "",
        "is_new_language": variant is None,
    }


def _posted_values() -> dict:
    form = request.form
    return {
        "language": form.get("language", "en"),
        "subject": form.get("subject", "").replace("\r\n", "\n"),
        "body": form.get("body", "").replace("\r\n", "\n"),
        "theme": form.get("theme", ""),
        "order": form.get("order", ""),
    }


def _preview_order(value: str) -> Order | None:
    if is_id(value):
        return Order.get_or_none(Order.id == int(value))
    return None


def _own_html(version: TemplateVersion | None, language: str) -> str:
    """The variant's own HTML (not made in this editor), which is sent instead of a theme."""
    variant = language_variant(version, language) if version is not None else None
    return variant.html if variant else ""


def _preview(
    template: Template,
    values: dict,
    version: TemplateVersion | None,
    palette: list[dict],
) -> Preview:
    """The preview of ``values``; ``version`` is the template's latest (for its own HTML),
    ``palette`` its placeholder palette (computed once per request)."""
    return render_preview(
        engine(),
        template,
        language=values["language"],
        subject=values["subject"],
        body=values["body"],
        theme=values["theme"],
        order=_preview_order(values["order"]),
        own_html=_own_html(version, values["language"]),
        placeholders=palette,
    )


def _editor(
    template: Template,
    version: TemplateVersion | None,
    values: dict,
    result,
    palette: list[dict],
    status: int = 200,
    *,
    orders: list[Order] | None = None,
):
    page = render_template(
        "templates/edit.html",
        template=template,
        version=version,
        values=values,
        result=result,
        present=_languages(version),
        languages=LANGUAGES,
        themes=themes.all_themes(),
        palette=palette,
        orders=orders if orders is not None else recent_orders(),
        has_body=has_body(template),
        channels=CHANNEL_LABELS,
        preview_args=_preview_args(values),
        own_html=bool(_own_html(version, values["language"])),
    )
    return page, status


def _preview_args(values: dict) -> dict:
    return {k: values.get(k, "") for k in ("language", "subject", "body", "theme", "order")}


@bp.route("/<int:template_id>")
def edit(template_id: int):
    """The editor for one language variant, with palette, live preview and lint."""
    template = template_or_404(template_id)
    version = latest_version(template)
    present = _languages(version)
    default = "en" if "en" in present or not present else present[0]
    language = request.args.get("lang") or default
    if language not in LANGUAGES and language not in present:
        abort(404, description=f"Unknown language {language!r}.")
    values = _form_values(version, language)
    recent = recent_orders()
    if request.args.get("order"):
        values["order"] = request.args["order"]
    elif recent and not values["is_new_language"]:
        values["order"] = str(recent[0].id)
    palette = placeholder_palette(engine(), template)
    result = _preview(template, values, version, palette) if has_body(template) else None
    return _editor(template, version, values, result, palette, orders=recent)


@bp.route("/<int:template_id>/preview", methods=["POST"])
def preview(template_id: int):
    """Live preview and lint of the unsaved form (htmx fragment, or the whole editor)."""
    template = template_or_404(template_id)
    values = _posted_values()
    version = latest_version(template)
    palette = placeholder_palette(engine(), template)
    result = _preview(template, values, version, palette)
    status = 422 if result.errors else 200
    if request.headers.get("HX-Request"):
        html = render_template(
            "templates/_preview.html",
            template=template,
            result=result,
            preview_args=_preview_args(values),
        )
        return html, status
    return _editor(template, version, values, result, palette, status)


@bp.route("/<int:template_id>/preview.html", methods=["POST"])
def preview_html(template_id: int):
    """The themed HTML of the preview, for the sandboxed frame in the editor.

    POST only: a link carrying a template would let anyone make a signed-in user render
    it (the editor posts the form, with its CSRF token, into the frame)."""
    template = template_or_404(template_id)
    values = _posted_values()
    version = latest_version(template)
    result = _preview(template, values, version, placeholder_palette(engine(), template))
    if result.errors:
        body = "<p>The preview cannot be shown: fix the placeholder errors first.</p>"
    else:
        body = result.html or "<p>No theme: this email goes as plain text only.</p>"
    return framed(body)


@bp.route("/<int:template_id>", methods=["POST"])
@requires("editor")
def save(template_id: int):
    """Save the edited variant as a new version (other languages are carried over)."""
    template = template_or_404(template_id)
    if not has_body(template):
        abort(400, description="Request a Review templates have no text to save.")
    values = _posted_values()
    if values["language"] not in LANGUAGES:
        abort(400, description=f"Unknown language {values['language']!r}.")
    if template.channel != "email":
        values["theme"] = ""
    elif values["theme"] and themes.get_theme(values["theme"]) is None:
        values["theme"] = ""
        flash("That theme no longer exists; choose another.", "error")
    version = latest_version(template)
    palette = placeholder_palette(engine(), template)
    result = _preview(template, values, version, palette)
    if result.blocked:
        what = (
            "placeholder errors" if result.errors else f"{result.lint_errors} compliance error(s)"
        )
        flash(f"Not saved: fix the {what} shown in the preview.", "error")
        return _editor(template, version, values, result, palette, 422)
    old = variant_dicts(version).get(values["language"], {})
    new = {"subject": values["subject"], "body": values["body"], "html": old.get("html", "")}
    if version is not None and old == new and (version.theme or "") == values["theme"]:
        flash(f"No changes: version {version.number} is still current.", "info")
        return redirect(url_for("templates.edit", template_id=template.id, lang=values["language"]))
    saved = save_language(
        template,
        values["language"],
        values["subject"],
        values["body"],
        theme=values["theme"],
        user=current_user().username,
        note=request.form.get("note", ""),
    )
    flash(f"Saved version {saved.number} of {template.name!r}.", "success")
    return redirect(url_for("templates.edit", template_id=template.id, lang=values["language"]))
