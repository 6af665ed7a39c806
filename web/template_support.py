"""What the Templates pages compute: the placeholder palette, previews, lint, diffs.

No routes here. A preview on a real order is composed by ``core.compose.compose_text``,
the dispatcher's own composition; on example values it renders with the same sandbox
and theme.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass, field
from typing import Any

from peewee import fn, prefetch

from core import compliance, render, themes
from core.clock import utcnow
from core.compose import (
    LINK_PLACEHOLDERS,
    Composed,
    ComposeRetry,
    Draft,
    TemplateBroken,
    account_words,
    compose_text,
)
from core.decide import probe
from core.library import PLACEHOLDER_EXAMPLES
from core.models import (
    Campaign,
    Order,
    SellerAccount,
    Step,
    Template,
    TemplateVariant,
    TemplateVersion,
)
from core.templates import check_text

log = logging.getLogger(__name__)

CHANNEL_LABELS = {
    "email": "Email (Buyer-Seller Messaging)",
    "messaging": "Amazon Messaging API",
    "solicitation": "Request a Review (Amazon's own text)",
}
CONTEXT_CHARS = 50  # text shown either side of a finding's span


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

    Each ``template_context`` hookimpl is asked on its own (pluggy's ``get_hookimpls``), so
    the palette can say where a placeholder comes from; one failing plugin loses only its
    own placeholders.
    """
    values: dict[str, Any] = {}
    owner: dict[str, str] = {}
    # The same plugins the send would ask: those enabled for the order's marketplace.
    for impl in eng.hook("template_context", order.marketplace).get_hookimpls():
        args = {"engine": eng, "order": order, "message": None}
        try:
            part = impl.function(**{a: args[a] for a in impl.argnames if a in args})
        except Exception:  # noqa: BLE001 - a plugin failing on a stand-in must not break the page
            log.exception("template_context of %s failed on the stand-in order", impl.plugin_name)
            continue
        for key, value in (part or {}).items():
            values.setdefault(key, value)
            owner.setdefault(key, _plugin_label(impl.plugin_name))
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


def recent_orders(limit: int = 10) -> list[Order]:
    """The newest orders of any account, to preview a template on real data."""
    return list(
        Order.select(Order, SellerAccount)
        .join(SellerAccount)
        .order_by(Order.purchased_at.desc(), Order.id.desc())
        .limit(limit)
    )


@dataclass
class Preview:
    subject: str = ""
    text: str = ""
    html: str = ""
    source: str = "example values"
    errors: list[str] = field(default_factory=list)  # placeholder/template errors
    findings: list[dict] = field(default_factory=list)
    context: dict = field(default_factory=dict)  # the placeholder values it rendered with
    # What would stop the send to this order besides compliance errors (derived from
    # ``Composed.problems``): no manual, a text too long for the step's sender.
    problems: list[str] = field(default_factory=list)

    @property
    def lint_errors(self) -> int:
        return sum(1 for f in self.findings if f["severity"] == "error")

    @property
    def blocked(self) -> bool:
        return bool(self.errors) or self.lint_errors > 0


def _highlight(finding: compliance.Finding, values: dict[str, str]) -> dict:
    value = values.get(finding.field, "")
    start, end = max(0, finding.start), max(finding.start, finding.end)
    if not value or start > len(value):
        before, marked, after = "", finding.excerpt, ""
    else:
        before = value[max(0, start - CONTEXT_CHARS) : start]
        marked = value[start:end]
        after = value[end : end + CONTEXT_CHARS]
        before = ("…" if start > CONTEXT_CHARS else "") + before
        after = after + ("…" if end + CONTEXT_CHARS < len(value) else "")
    return {
        "rule_id": finding.rule_id,
        "severity": finding.severity,
        "field": finding.field,
        "explanation": finding.explanation,
        "source": finding.source,
        "before": before,
        "marked": marked,
        "after": after,
    }


def present_findings(findings, values: dict[str, str]) -> list[dict]:
    """Findings as the UI shows them: errors first, with the span and some context."""
    ordered = sorted(findings, key=lambda f: (f.severity != "error", f.field, f.start))
    return [_highlight(f, values) for f in ordered]


def without_echoes(findings: list[compliance.Finding]) -> list[compliance.Finding]:
    """Drop HTML findings that repeat a text finding: the theme's HTML contains the text."""
    seen = {(f.rule_id, f.excerpt) for f in findings if f.field != "html"}
    return [f for f in findings if f.field != "html" or (f.rule_id, f.excerpt) not in seen]


def preview(
    eng,
    template,
    *,
    language: str,
    subject: str,
    body: str,
    theme: str = "",
    order: Order | None = None,
    own_html: str = "",
    placeholders: list[dict] | None = None,
) -> Preview:
    """Render and lint a variant as it would be sent to ``order`` (or with example values).

    On an order the text is composed by ``core.compose.compose_text``, the dispatcher's
    own composition, for the first step using the template (its per-product content,
    attachments and sender limit), or for the template alone when no step uses it.
    ``placeholders`` is the template's ``palette()`` if the caller already has it (it runs
    every plugin's ``template_context``); otherwise it is computed here, once.
    """
    if placeholders is None and order is None:
        placeholders = palette(eng, template)
    draft = Draft(
        subject=subject,
        body=body,
        language=language,
        channel=template.channel,
        html=own_html,  # a variant's own HTML is sent instead of a theme
        theme=theme,
        name=template.name,
        message_type=template.message_type,
    )
    if order is not None:
        result = _preview_on_order(eng, template, draft, order)
    else:
        result = _preview_on_examples(eng, template, draft, placeholders)
    if not result.errors:
        result.findings.extend(unavailable_used(eng, template, subject, body, placeholders))
    return result


def preview_message(eng, order: Order, step, language: str):
    """The unsaved message planning would create for (``order``, ``step``), in
    ``language`` as ``core.compose.compose`` sets it before rendering: what plugins'
    placeholders and attachments see in a preview (a dry run, never downloading)."""
    message = probe(eng, order, step, dry_run=True)
    message.language = language
    return message


def compose_on_order(eng, order: Order, step, draft: Draft) -> tuple[Composed | None, list[str]]:
    """``draft`` composed for ``order`` by ``core.compose.compose_text``, the dispatcher's
    own composition, for ``step`` (None: the template alone), then through the check
    every editor runs before it saves (``core.templates.check_text``) on the values it
    rendered with. (the composition, []) or (None, why there is none to show)."""
    message = preview_message(eng, order, step, draft.language) if step is not None else None
    try:
        composed = compose_text(eng, order, step, draft, message, preview=True)
    except TemplateBroken as exc:
        # The editors' own check names the field and suggests a placeholder.
        try:
            context = eng.template_context(order, message)
        except Exception:  # noqa: BLE001 - the reason below still says what is wrong
            log.exception("template_context failed for order %s", order.order_id)
            return None, [exc.reason]
        checked = check_text(draft.subject, draft.body, context, html=draft.html)
        return None, checked.errors or [exc.reason]
    except ComposeRetry as exc:
        why = f"data for order {order.order_id} is not there yet ({exc.reason}); a send waits"
        return None, [why]
    except Exception as exc:  # noqa: BLE001 - a plugin failing is shown, never raised
        log.exception("composing the preview for order %s failed", order.order_id)
        return None, [f"placeholders for order {order.order_id} failed: {exc}"]
    checked = check_text(draft.subject, draft.body, composed.context, html=draft.html)
    return (None, checked.errors) if checked.errors else (composed, [])


def send_stoppers(composed: Composed) -> list[str]:
    """What would stop the send besides compliance errors (those are its findings): no
    manual, a text too long for the step's sender."""
    return [
        reason.removeprefix("skipped: ") for reason, rule_ids in composed.problems if not rule_ids
    ]


def _preview_on_order(eng, template, draft: Draft, order: Order) -> Preview:
    result = Preview(source=f"order {order.order_id} ({order.marketplace})")
    composed, result.errors = compose_on_order(eng, order, preview_step(template), draft)
    if composed is None:
        return result
    result.context = composed.context
    rendered = composed.rendered
    result.subject, result.text, result.html = rendered.subject, rendered.text, rendered.html
    result.problems = send_stoppers(composed)
    values = {"text": result.text, "subject": result.subject, "html": result.html}
    result.findings = present_findings(without_echoes(composed.findings), values)
    return result


def _preview_on_examples(eng, template, draft: Draft, placeholders: list[dict] | None) -> Preview:
    """Without an order: the example values, rendered and linted as a send would."""
    result = Preview()
    context = sample_context(eng, placeholders)
    links = tuple(
        v for k in LINK_PLACEHOLDERS if isinstance(v := context.get(k), str) and v[:8] == "https://"
    )
    result.context = context
    checked = check_text(draft.subject, draft.body, context, html=draft.html)
    if checked.errors:
        result.errors.extend(checked.errors)
        return result
    result.subject, result.text = checked.subject, checked.text
    if draft.html:  # a variant's own HTML is sent instead of a theme (core.compose)
        result.html = checked.html
    elif draft.channel == "email":
        result.html = themes.html_for(draft.theme, result.text, result.subject)
    inp = compliance.LintInput(
        text=result.text,
        html=result.html,
        subject=result.subject,
        channel=draft.channel,
        message_type=draft.message_type,
        language=draft.language or "en",
        order_id=str(context.get("order_id", "")),
        allowed_links=links,
        allowed_words=account_words(None),
    )
    findings = without_echoes(compliance.lint(inp, eng.content_checks(None)))
    values = {"text": result.text, "subject": result.subject, "html": result.html}
    result.findings = present_findings(findings, values)
    return result


def preview_step(template):
    """The step a preview of ``template`` composes for: the first step using it (its
    per-product content, attachments and sender apply), or None when no step uses it."""
    if getattr(template, "id", None) is None:
        return None
    return Step.select().where(Step.template == template.id).order_by(Step.id).first()


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


def version_lines(version: TemplateVersion) -> list[str]:
    """A version as numbered-diffable lines: theme, then each language's subject and body."""
    lines = [f"Theme: {version.theme or '(none: plain text only)'}"]
    for variant in sorted(version.variants, key=lambda v: v.language):
        lines.append(f"[{variant.language}] Subject: {variant.subject}")
        lines.extend(f"[{variant.language}] {line}" for line in variant.body.split("\n"))
        if variant.html:
            lines.extend(f"[{variant.language}] HTML: {line}" for line in variant.html.split("\n"))
    return lines


def diff_rows(old: list[str], new: list[str], context: int = 3) -> list[dict]:
    """Rows of a line diff: kind (same, removed, added, skip), line numbers, text."""
    rows: list[dict] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for group in matcher.get_grouped_opcodes(context):
        if rows:
            rows.append({"kind": "skip", "old": "", "new": "", "text": "…"})
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                for k in range(i2 - i1):
                    rows.append(
                        {"kind": "same", "old": i1 + k + 1, "new": j1 + k + 1, "text": old[i1 + k]}
                    )
                continue
            for k in range(i1, i2):
                rows.append({"kind": "removed", "old": k + 1, "new": "", "text": old[k]})
            for k in range(j1, j2):
                rows.append({"kind": "added", "old": "", "new": k + 1, "text": new[k]})
    return rows


def test_attachments(eng, template, order: Order | None) -> tuple[tuple, str]:
    """The attachments a step using ``template`` would send with ``order``, and a note.

    Attachments belong to campaign steps (manuals per SKU and language), so a template no
    step uses has none. Plugins skip downloads for previews (no message), e.g. eu_vat's
    invoice; a plugin that cannot give one *yet* is reported, not raised.
    """
    if order is None:
        return (), ""
    step = preview_step(template)
    if step is None:
        return (), ""
    try:
        return tuple(eng.attachments(order, None, step)), ""
    except Exception as exc:  # noqa: BLE001 - RetryLater or a plugin error: shown, not raised
        return (), f"attachments left out: {getattr(exc, 'reason', exc)}"
