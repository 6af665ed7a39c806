"""The step editor's live preview: the typed text rendered on a real order and linted
exactly as the dispatcher would (``core.compose``), warnings included."""

from __future__ import annotations

import logging

from core import compliance
from core.attachments import StoredFile
from core.campaigns import rule_problems
from core.compose import (
    allowed_links,
    buyer_language,
    latest_version,
    lint_rendered,
    manual_missing,
    pick_variant,
)
from core.contracts import SCHEDULED, Rendered, RetryLater
from core.decide import StepBroken
from core.models import Campaign, Message, Order, OrderItem, Step
from core.planning import check_rules
from core.templates import TextCheck, check_text

from .template_support import sample_context

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
    if order_pk.isdigit():
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


def _probe(step: Step, order: Order, language: str) -> Message:
    return Message(
        order=order,
        step=step,
        account=order.account_id,
        sender=step.sender,
        state=SCHEDULED,
        language=language,
        dry_run=True,
    )


def _context(eng, step: Step, order: Order, language: str) -> tuple[dict | None, str]:
    """(placeholder values for ``order``, "") or (None, why they failed)."""
    try:
        return eng.template_context(order, _probe(step, order, language)), ""
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
    eng,
    step: Step,
    order: Order | None,
    language: str,
    subject: str,
    body: str,
    context: dict | None = None,
) -> TextCheck:
    """The typed text through ``core.templates.check_text``, the check the Templates
    editor runs too: on ``order``'s placeholder values (as the preview shows them;
    ``context`` if the caller has them already), or on example values without an
    order. The language's own HTML is checked with it."""
    if order is None:
        context = _example_context(eng, step)
    elif context is None:
        context, failed = _context(eng, step, order, language)
        if context is None:
            return TextCheck(errors=[failed])
    version = latest_version(step.template) if step.template_id else None
    variant = pick_variant(version, language) if version is not None else None
    own_html = variant.html if variant is not None and variant.language == language else ""
    return check_text(subject, body, context, html=own_html)


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


def build_preview(eng, step: Step, order: Order | None, language: str, subject: str, body: str):
    """Render ``subject``/``body`` for ``order`` and lint the result like the dispatcher
    would, warnings included; without an order, lint the template source."""
    channel = channel_of(step)
    out = {"order": order, "subject": subject, "text": body, "error": "", "findings": []}
    out["empty"] = not body.strip()
    if out["empty"]:
        out.update(errors=[], text_pieces=[], subject_pieces=[])
        return out
    context, failed = (None, "") if order is None else _context(eng, step, order, language)
    if failed:
        checked = TextCheck(errors=[failed])
    else:
        checked = text_check(eng, step, order, language, subject, body, context)
    if checked.errors:
        out["error"] = "The text cannot be rendered: " + "; ".join(checked.errors)
        out.update(errors=[], text_pieces=[], subject_pieces=[])
        return out
    if order is None:
        inp = compliance.LintInput(
            text=body,
            subject=subject,
            channel=channel,
            message_type=step.message_type,
            language=language or "en",
            is_template_source=True,
        )
        out["findings"] = compliance.lint(inp, eng.content_checks(None))
    else:
        probe = _probe(step, order, language)
        out["subject"], out["text"] = checked.subject, checked.text
        out["rule_note"] = _rule_note(eng, order, step)
        out["manual_missing"] = _preview_manual_missing(eng, order, step, probe, body, context)
        if out["manual_missing"]:
            out["skus"] = [i.sku for i in OrderItem.select().where(OrderItem.order == order)]
        rendered = Rendered(out["subject"], out["text"], language=language)
        links = allowed_links(eng, order, context)
        out["findings"] = lint_rendered(eng, order, step, rendered, channel, links, warnings=True)
    sender = eng.senders.get(step.sender)
    if sender is not None and sender.max_length and len(out["text"]) > sender.max_length:
        out["error"] = (
            f"The text is {len(out['text'])} characters; {sender.label} allows {sender.max_length}."
        )
    out["errors"] = [f for f in out["findings"] if f.severity == "error"]
    out["text_pieces"] = highlight(out["text"], out["findings"], "text")
    out["subject_pieces"] = highlight(out["subject"], out["findings"], "subject")
    return out


def _preview_manual_missing(eng, order, step, probe, body: str, context: dict) -> bool:
    """Whether compose would skip this text for ``order`` with "no manual for this
    product" (the same check ``core.compose`` makes at send time)."""
    try:
        attachments = tuple(eng.attachments(order, probe, step))
    except RetryLater:
        return False  # the attachment source is busy: no verdict, compose retries later
    return manual_missing(body, context, attachments)


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
