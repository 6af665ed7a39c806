"""A template variant rendered and linted as it would be sent.

A preview on a real order is composed by ``core.compose.compose_text``, the
dispatcher's own composition; on example values it renders with the same sandbox and
theme. The campaign step editor's preview is built from the same pieces.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from core import compliance, themes
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
from core.models import Order, Step
from core.templates import check_text

from .palette import palette, sample_context, unavailable_used

log = logging.getLogger(__name__)

CONTEXT_CHARS = 50  # text shown either side of a finding's span


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
