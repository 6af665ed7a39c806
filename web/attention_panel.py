"""What the "Needs your attention" page and the dashboard's panel render, and where each
problem links to. The read model is ``core.attention``; this module only turns its named
targets into addresses, so the dashboard shows the panel without importing the page's
view module."""

from __future__ import annotations

from flask import url_for

from core.attention import CAP, attention, total

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
