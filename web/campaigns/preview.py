"""The step editor's live preview: the typed text composed on a real order by
``core.compose.compose_text``, the dispatcher's own composition, warnings included."""

from __future__ import annotations

import logging

from core import compliance
from core.attachments import StoredFile
from core.campaigns import rule_problems
from core.compose import (
    NO_MANUAL,
    Draft,
    account_words,
    buyer_language,
    language_variant,
    latest_version,
)
from core.decide import StepBroken
from core.models import Campaign, Order, OrderItem, Step
from core.planning import check_rules
from core.templates import TextCheck, check_text

from ..converters import is_id
from ..message_templates.palette import sample_context
from ..message_templates.preview import (
    compose_on_order,
    preview_message,
    send_stoppers,
    without_echoes,
)

log = logging.getLogger(__name__)


def channel_of(step: Step) -> str:
    """The template channel the linter applies: the template's, else from the sender."""
    if step.template_id:
        return step.template.channel
    return "email" if step.sender == "email" else "messaging"


def needs_text(eng, step: Step) -> bool:
    """False for Request a Review steps: Amazon writes that message itself.

    A review request without a template through the dry-run sender stands in for Amazon's
    button (``core.compose`` sends no text for it); through a channel that carries text
    (email), the seller writes the request here.
    """
    sender = eng.senders.get(step.sender)
    if sender is not None and not sender.needs_body:
        return False
    stand_in = sender is None or sender.dry_run
    return not (stand_in and step.template_id is None and step.message_type == "review_request")


PREVIEW_SCAN = 300  # newest orders searched for one the step's rules let through


def preview_order(
    eng, step: Step, order_pk: str = "", scan: int = PREVIEW_SCAN, recent=None
) -> Order | None:
    """The order the preview renders on: the chosen one; else, among the newest orders
    of the campaign's account (or of all accounts), the newest the step's rules let
    through; else simply the newest. ``recent`` is ``recent_orders(campaign, scan)`` if
    the caller already has it."""
    if is_id(order_pk):
        chosen = Order.get_or_none(Order.id == int(order_pk))
        if chosen is not None:
            return chosen
    if recent is None:
        recent = recent_orders(step.campaign, scan)
    matching = None
    if not rule_problems(eng, step.rules):  # rules that cannot run let no order through
        matching = next((o for o in recent if _passes_rules(eng, o, step)), None)
    return matching or (recent[0] if recent else None)


def _passes_rules(eng, order: Order, step: Step) -> bool:
    """Whether the step's rules let ``order`` through; a rule that raises does not."""
    try:
        return not check_rules(eng, order, step)
    except StepBroken:
        return False


def _rule_note(eng, order: Order, step: Step) -> str:
    """Why ``order`` would not get this step ("" when it would), for the preview."""
    try:
        failed = check_rules(eng, order, step)
    except StepBroken as exc:
        return f"its rules cannot run: {exc}"
    return failed[0] if failed else ""


def recent_orders(campaign, limit: int) -> list[Order]:
    """The newest orders of the campaign's account, or of every account."""
    newest = Order.select().order_by(Order.purchased_at.desc(), Order.id.desc())
    if campaign.account_id:
        found = list(newest.where(Order.account == campaign.account_id).limit(limit))
        if found:
            return found
    return list(newest.limit(limit))


def recent_skus(campaign, limit: int = 50, recent=None) -> list[str]:
    """SKUs of the campaign's recent orders: suggestions for the per-product table.

    ``recent`` is a longer ``recent_orders(campaign, …)`` list the caller already has.
    """
    newest = recent[:limit] if recent is not None else recent_orders(campaign, limit)
    orders = [o.id for o in newest]
    if not orders:
        return []
    rows = (
        OrderItem.select(OrderItem.sku)
        .where(OrderItem.order.in_(orders) & (OrderItem.sku != ""))
        .distinct()
        .tuples()
    )
    return sorted(sku for (sku,) in rows)


def step_files(step: Step) -> list[StoredFile]:
    """Stored files a message of the step can carry: campaign-wide ones, then its own."""
    return list(
        StoredFile.select(
            StoredFile.id,
            StoredFile.name,
            StoredFile.kind,
            StoredFile.filename,
            StoredFile.size,
            StoredFile.step,
            StoredFile.sku,
            StoredFile.language,
        )
        .where(
            (StoredFile.step == step.id)
            | ((StoredFile.campaign == step.campaign_id) & StoredFile.step.is_null())
        )
        .order_by(StoredFile.step.is_null(False), StoredFile.sku, StoredFile.id)
    )


def highlight(text: str, findings, field: str) -> list[tuple[str, object]]:
    """``text`` cut into (piece, finding or None) so offending spans can be marked."""
    spans = sorted(
        (f for f in findings if f.field == field and f.end > f.start), key=lambda f: f.start
    )
    pieces, cursor = [], 0
    for f in spans:
        if f.start < cursor or f.end > len(text):
            continue
        if f.start > cursor:
            pieces.append((text[cursor : f.start], None))
        pieces.append((text[f.start : f.end], f))
        cursor = f.end
    if cursor < len(text):
        pieces.append((text[cursor:], None))
    return pieces


def _context(eng, step: Step, order: Order, language: str) -> tuple[dict | None, str]:
    """(placeholder values for ``order``, "") or (None, why they failed)."""
    try:
        return eng.template_context(order, preview_message(eng, order, step, language)), ""
    except Exception as exc:  # noqa: BLE001 - shown to the seller, never raised
        log.exception("template_context failed for order %s", order.order_id)
        return None, f"placeholders for order {order.order_id} failed: {exc}"


def _example_context(eng, step: Step) -> dict:
    """Example values, with every per-product key of the step (as some SKU would have it),
    so ``{{ product_content.KEY }}`` renders before there is an order to preview on."""
    context = dict(sample_context(eng))
    content: dict = {}
    for fields in (step.product_content or {}).values():
        for key, value in (fields or {}).items():
            content.setdefault(key, value)
    context["product_content"] = content
    if content.get("manual_link"):
        context["manual_link"] = content["manual_link"]
    return context


def text_check(
    eng, step: Step, order: Order | None, language: str, subject: str, body: str
) -> TextCheck:
    """The typed text through ``core.templates.check_text``, the check the Templates
    editor runs too: on ``order``'s placeholder values (as the preview shows them), or
    on example values without an order. The language's own HTML is checked with it."""
    if order is None:
        context = _example_context(eng, step)
    else:
        context, failed = _context(eng, step, order, language)
        if context is None:
            return TextCheck(errors=[failed])
    html = step_draft(step, language, subject, body).html
    return check_text(subject, body, context, html=html)


def sharing_campaigns(step: Step) -> list[dict]:
    """The other steps using this step's template (as its text or an A/B variant), by
    campaign: editing the text from here changes their messages too."""
    if not step.template_id:
        return []
    others = (
        Step.select(Step, Campaign)
        .join(Campaign)
        .where(Step.id != step.id)
        .order_by(Campaign.name, Step.position)
    )
    found: dict[int, dict] = {}
    for other in others:
        variants = {v.get("template") for v in other.variants or [] if isinstance(v, dict)}
        if other.template_id == step.template_id or step.template_id in variants:
            entry = found.setdefault(
                other.campaign_id, {"campaign": other.campaign, "positions": []}
            )
            entry["positions"].append(other.position)
    return list(found.values())


def step_draft(step: Step, language: str, subject: str, body: str) -> Draft:
    """The typed text as the step would send it: its template's channel, the language's
    own HTML and the version's email theme (both kept by a save from this editor)."""
    version = latest_version(step.template) if step.template_id else None
    variant = language_variant(version, language) if version is not None else None
    return Draft(
        subject=subject,
        body=body,
        language=language,
        channel=channel_of(step),
        html=variant.html if variant is not None else "",
        theme=version.theme if version is not None else "",
        name=step.template.name if step.template_id else "the text",
    )


def build_preview(eng, step: Step, order: Order | None, language: str, subject: str, body: str):
    """Render ``subject``/``body`` for ``order`` through ``core.compose.compose_text``,
    exactly as the dispatcher would, warnings included; without an order, lint the
    template source."""
    out = {"order": order, "subject": subject, "text": body, "error": "", "findings": []}
    out["empty"] = not body.strip()
    out["problems"] = []
    if out["empty"]:
        out.update(errors=[], text_pieces=[], subject_pieces=[])
        return out
    if order is None:
        composed, errors = None, text_check(eng, step, None, language, subject, body).errors
    else:
        draft = step_draft(step, language, subject, body)
        composed, errors = compose_on_order(eng, order, step, draft)
    if errors:
        out["error"] = "The text cannot be rendered: " + "; ".join(errors)
        out.update(errors=[], text_pieces=[], subject_pieces=[])
        return out
    if order is None:
        inp = compliance.LintInput(
            text=body,
            subject=subject,
            channel=channel_of(step),
            message_type=step.message_type,
            language=language or "en",
            is_template_source=True,
            allowed_words=account_words(step.campaign.account),
        )
        out["findings"] = compliance.lint(inp, eng.content_checks(None))
    else:
        out["subject"], out["text"] = composed.rendered.subject, composed.rendered.text
        out["rule_note"] = _rule_note(eng, order, step)
        out["problems"] = [reason for reason, _ids in composed.problems]
        out["manual_missing"] = any(NO_MANUAL in reason for reason in out["problems"])
        if out["manual_missing"]:
            out["skus"] = [i.sku for i in OrderItem.select().where(OrderItem.order == order)]
        # The missing manual has its own box above; compliance errors are findings.
        notes = [r for r in send_stoppers(composed) if NO_MANUAL not in r]
        if notes:
            out["error"] = "This message would be skipped for this order: " + "; ".join(notes)
        # The theme's HTML repeats the text: its findings would be listed twice.
        out["findings"] = without_echoes(composed.findings)
    out["errors"] = [f for f in out["findings"] if f.severity == "error"]
    out["text_pieces"] = highlight(out["text"], out["findings"], "text")
    out["subject_pieces"] = highlight(out["subject"], out["findings"], "subject")
    return out


def text_state(eng, step: Step, order: Order | None, language: str = ""):
    """(language, languages offered, subject, body) of the step's latest saved text."""
    version = latest_version(step.template) if step.template_id else None
    variants = {v.language: v for v in version.variants} if version else {}
    buyer = buyer_language(eng, order) if order is not None else ""
    languages = sorted(set(variants) | ({buyer} if buyer else set()) | {"en"})
    if language not in languages:
        language = buyer if buyer in variants else next(iter(sorted(variants)), buyer or "en")
    current = variants.get(language)
    return (
        language,
        languages,
        (current.subject if current else ""),
        (current.body if current else ""),
    )
