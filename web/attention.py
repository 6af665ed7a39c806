""" "Needs your attention": every problem a seller must act on, on one page (the
dashboard shows the same panel). What it renders and where each problem links to are
``attention_panel``'s; the read model is ``core.attention``."""

from __future__ import annotations

from flask import Blueprint, render_template

from .attention_panel import context, link

bp = Blueprint("attention", __name__, url_prefix="/attention")


@bp.route("/")
def index():
    """Every problem that needs the seller, each with a plain sentence and its action."""
    return render_template("attention/index.html", **context())


@bp.app_context_processor
def _helpers():
    return {"attention_link": link}
