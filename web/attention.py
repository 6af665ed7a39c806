""" "Needs your attention": every problem a seller must act on, on one page and as the
dashboard's panel. The read model is ``core.attention``; this module only turns its
named targets into addresses."""

from __future__ import annotations

from flask import Blueprint, render_template, url_for

from core.attention import CAP, attention, total

bp = Blueprint("attention", __name__, url_prefix="/attention")

# core.attention's named targets -> (endpoint, how its arguments are named there).
TARGETS = {
    "message": "messages.detail",
    "messages": "messages.index",
    "order": "orders.detail",
    "account": "accounts.edit",
    "accounts": "accounts.index",
    "template": "templates.edit",
    "campaign": "campaigns.detail",
}


def link(target) -> str:
    """The address of a ``core.attention`` target such as ``("message", {"message_id": 3})``."""
    name, args = target
    return url_for(TARGETS[name], **args)


def context() -> dict:
    """What the page and the dashboard panel render."""
    groups = attention()
    return {"attention_groups": groups, "attention_total": total(groups), "attention_cap": CAP}


@bp.route("/")
def index():
    """Every problem that needs the seller, each with a plain sentence and its action."""
    return render_template("attention/index.html", **context())


@bp.app_context_processor
def _helpers():
    return {"attention_link": link}
