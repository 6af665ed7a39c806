"""The placeholder palette: every placeholder with an example, the plugin that provides
it and whether this template may use it (Amazon's channel rules, the steps using it)."""

from __future__ import annotations

import logging
from typing import Any

from core import render
from core.clock import utcnow
from core.library import PLACEHOLDER_EXAMPLES
from core.models import Campaign, Order, Step

log = logging.getLogger(__name__)


def _stand_in_order() -> Order:
    """An unsaved order with example values, so plugins can name their placeholders."""
    now = utcnow()
    return Order(
        order_id=PLACEHOLDER_EXAMPLES["order_id"],
        marketplace=PLACEHOLDER_EXAMPLES["marketplace"],
        fulfillment="FBA",
        status="Shipped",
        purchased_at=now,
        last_updated_at=now,
        shipped_at=now,
        buyer_locale="",
    )


def _snippet(name: str, example: Any) -> str:
    if isinstance(example, list | tuple):
        first = example[0] if example else {}
        attr = next(iter(first), "") if isinstance(first, dict) else ""
        item = f"item.{attr}" if attr else "item"
        return f"{{% for item in {name} %}}{{{{ {item} }}}}{{% endfor %}}"
    return f"{{{{ {name} }}}}"


# Who normally provides a placeholder, for the ones no loaded plugin provides right now
# (the palette then says which plugin to enable instead of showing a dead example).
USUAL_PROVIDER = {
    "review_link": "amazon",
    "invoice_link": "eu_vat",
    "company_name": "eu_vat",
    "company_address": "eu_vat",
    "vat_id": "eu_vat",
}
INVOICE_PLACEHOLDERS = ("invoice_link", "company_name", "company_address", "vat_id")
BEFORE_DELIVERY = ("ordered", "shipped")
BUILT_IN = "built-in"


def _plugin_label(name: str | None) -> str:
    """Core's own hook modules (``default_context`` …) read as "built-in"."""
    if not name or name.startswith("default_"):
        return BUILT_IN
    return name


def _providers(eng, order: Order) -> tuple[dict[str, Any], dict[str, str]]:
    """Every placeholder value on ``order`` and the plugin that provides it.

    Each plugin is asked on its own (``Engine.template_context_by_plugin``), so the
    palette can say where a placeholder comes from; one failing plugin loses only its
    own placeholders. The same plugins the send would ask: those enabled for the order's
    marketplace.
    """
    values: dict[str, Any] = {}
    owner: dict[str, str] = {}
    for plugin, part in eng.template_context_by_plugin(order):
        for key, value in part.items():
            values.setdefault(key, value)
            owner.setdefault(key, _plugin_label(plugin))
    return values, owner


def template_usage(template) -> dict:
    """Where a template is used: its steps' triggers and their campaigns' marketplaces."""
    triggers: set[str] = set()
    marketplaces: set[str] = set()
    if template is None or getattr(template, "id", None) is None:
        return {"triggers": triggers, "marketplaces": marketplaces, "steps": 0}
    steps = list(Step.select(Step, Campaign).join(Campaign).where(Step.template == template.id))
    for step in steps:
        triggers.add(step.trigger)
        account = step.campaign.account
        if account is not None:
            marketplaces.update(account.marketplaces or [])
    return {"triggers": triggers, "marketplaces": marketplaces, "steps": len(steps)}


def availability(eng, name: str, template, usage: dict, provided: bool) -> tuple[str, str]:
    """``("ok" | "limited" | "unavailable", note)`` of one placeholder for this template.

    The notes encode Amazon's channel rules (docs/amazon-rules.md §2, §3): a review link
    belongs only in a review request, the Messaging API has no review-request type;
    invoice fields come from eu_vat, which serves only EU/UK marketplaces; the delivery
    date is known only once the order is delivered.
    """
    channel = getattr(template, "channel", "email") if template is not None else "email"
    message_type = getattr(template, "message_type", "") if template is not None else ""
    if channel == "solicitation":
        return "unavailable", "Request a Review sends Amazon's own text: no placeholders."
    if not provided and name in USUAL_PROVIDER:
        plugin = USUAL_PROVIDER[name]
        return "unavailable", f"No loaded plugin provides it: enable the {plugin} plugin."
    if name == "review_link":
        if channel == "messaging":
            return (
                "unavailable",
                "The Messaging API has no review-request message: ask for reviews with "
                "Request a Review or an email review request.",
            )
        if message_type and message_type != "review_request":
            return (
                "unavailable",
                "Only in a review request: Amazon forbids review asks in other messages.",
            )
        return "ok", "Only in a review request, once per order."
    if name in INVOICE_PLACEHOLDERS:
        used = usage["marketplaces"]
        eu = {code for code in used if (m := eng.marketplace(code)) is not None and m.eu_vat}
        if used and not eu:
            return (
                "unavailable",
                f"Only in EU/UK marketplaces (eu_vat); this template's campaigns sell in "
                f"{', '.join(sorted(used))}.",
            )
        return "limited", "Only in EU/UK marketplaces, with the eu_vat plugin enabled there."
    if name == "delivery_date":
        triggers = usage["triggers"]
        if triggers and triggers <= set(BEFORE_DELIVERY):
            return (
                "unavailable",
                "Only after delivery: the steps using this template start at "
                f"{', '.join(sorted(triggers))}, when the date is at best an estimate or empty.",
            )
        return "limited", "Only after delivery; before that an estimate, or empty."
    if name in ("product_content", "manual_link"):
        return "limited", "From the campaign step's per-product content; empty elsewhere."
    return "ok", ""


def palette(eng, template=None) -> list[dict]:
    """Every placeholder (built-in and plugin-provided) with an example and its snippet.

    Each entry also says which plugin provides it (``plugin``) and whether it can be used
    in ``template``'s channel and triggers (``status``: ok, limited, unavailable; ``note``).
    Unavailable placeholders are listed with the reason rather than hidden.
    """
    provided, owner = _providers(eng, _stand_in_order())
    usage = template_usage(template)
    names = sorted(set(provided) | set(PLACEHOLDER_EXAMPLES))
    out = []
    for name in names:
        example = PLACEHOLDER_EXAMPLES.get(name, provided.get(name, ""))
        if example in ("", None, {}, []) and provided.get(name):
            example = provided[name]
        shown = example
        if isinstance(example, list | tuple):
            shown = ", ".join(
                str(i.get("title", i)) if isinstance(i, dict) else str(i) for i in example
            )
        elif isinstance(example, dict):
            shown = ", ".join(f"{k}: {v}" for k, v in example.items()) or "per-product texts"
        status, note = availability(eng, name, template, usage, name in provided)
        out.append(
            {
                "name": name,
                "example": str(shown),
                "snippet": _snippet(name, example),
                "raw": example,
                "plugin": owner.get(name, ""),
                "status": status,
                "note": note,
            }
        )
    return out


def sample_context(eng, placeholders: list[dict] | None = None) -> dict:
    """The example value of every placeholder: what the preview renders without an order.

    ``placeholders`` is a ``palette()`` the caller already has (examples do not depend on
    the template).
    """
    if placeholders is None:
        placeholders = palette(eng)
    return {p["name"]: p["raw"] for p in placeholders}


def unavailable_used(
    eng, template, subject: str, body: str, placeholders: list[dict] | None = None
) -> list[dict]:
    """A warning for each placeholder used that the palette marks unavailable here.

    A warning, not an error: the value may still be right in a campaign the palette does
    not know of yet, and the compliance linter checks the rendered text anyway.
    """
    used: set[str] = set()
    for source in (subject, body):
        try:
            used |= render.undeclared_placeholders(source) if source else set()
        except render.TemplateError:
            continue
    if not used:
        return []
    if placeholders is None:
        placeholders = palette(eng, template)
    return [
        {
            "rule_id": "FU-PLACEHOLDER-UNAVAILABLE",
            "severity": "warning",
            "field": "text",
            "explanation": f"{{{{ {p['name']} }}}} is not available here: {p['note']}",
            "source": "Placeholder palette (provided by "
            f"{p['plugin'] or USUAL_PROVIDER.get(p['name'], 'no loaded plugin')})",
            "before": "",
            "marked": "",
            "after": "",
        }
        for p in placeholders
        if p["name"] in used and p["status"] == "unavailable"
    ]
