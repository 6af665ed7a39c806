"""Email themes: the shipped layouts and the seller's own, each previewed on a sample."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from core import themes

from ..audit import audit
from ..context import engine
from ..security import current_user, requires
from .blueprint import bp
from .framing import framed
from .preview import present_findings

STARTER = '<div style="border-left: 4px solid #1f5fbf; padding-left: 12px;">\n{{ body }}\n</div>\n'


def _page(values: dict, findings=(), status: int = 200):
    return (
        render_template(
            "templates/themes.html",
            themes=themes.all_themes(),
            values=values,
            findings=findings,
        ),
        status,
    )


@bp.route("/themes")
def theme_list():
    """Every theme with a sample preview, and the form for a seller theme."""
    key = request.args.get("edit", "")
    theme = themes.get_theme(key) if key else None
    if theme is not None and not theme.shipped:
        values = {"key": theme.key, "name": theme.name, "description": theme.description}
        values["layout"] = theme.layout
    else:
        values = {"key": "", "name": "", "description": "", "layout": STARTER}
    return _page(values)


@bp.route("/themes", methods=["POST"])
@requires("editor")
def theme_save():
    """Save a seller theme; one that breaks Amazon's styling rules is refused (422)."""
    form = request.form
    values = {k: form.get(k, "") for k in ("key", "name", "description", "layout")}
    values["layout"] = values["layout"].replace("\r\n", "\n")
    try:
        row = themes.save_seller_theme(
            values["name"],
            values["layout"],
            description=values["description"],
            user=current_user().username,
            key=values["key"],
            checks=engine().content_checks(None),
        )
    except ValueError as exc:
        flash(f"Not saved: {exc}.", "error")
        return _page(values, status=422)
    except themes.ThemeRefused as refused:
        flash(f"Not saved: {refused}. Fix the findings below.", "error")
        sample = themes.wrap(values["layout"], themes.SAMPLE_TEXT, themes.SAMPLE_SUBJECT)
        # FU-THEME-* spans point into the layout itself, the others into the sample HTML.
        shown = [
            present_findings(
                [f], {"html": values["layout"] if f.rule_id.startswith("FU-THEME-") else sample}
            )[0]
            for f in refused.findings
        ]
        return _page(values, shown, 422)
    audit("theme_saved", row.key, row.name)
    flash(f"Saved theme {row.name!r}: choose it in an email template's editor.", "success")
    return redirect(url_for("templates.theme_list"))


@bp.route("/themes/<key>/preview.html")
def theme_preview(key: str):
    """A theme around the sample message, for the sandboxed frame on the themes page."""
    theme = themes.get_theme(key)
    if theme is None:
        abort(404)
    return framed(themes.wrap(theme.layout, themes.SAMPLE_TEXT, themes.SAMPLE_SUBJECT))
