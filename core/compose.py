"""Composing a message: choose template version and language, render, lint.

Used at send time by the dispatcher and at edit time by the preview, so that what the
seller previews is exactly what would be sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from peewee import fn

from . import compliance, render, themes
from .contracts import Rendered, RetryLater
from .library import PLACEHOLDER_EXAMPLES
from .models import Order, SellerAccount, Step, Template, TemplateVariant, TemplateVersion


class ComposeError(Exception):
    """The message cannot be composed; ``reason`` is what the trace shows."""

    def __init__(self, reason: str, rule_ids: tuple[str, ...] = ()):
        super().__init__(reason)
        self.reason = reason
        self.rule_ids = rule_ids


class NoVariant(ComposeError):
    """No language variant matches the buyer; the step's policy decides what happens."""


class TemplateBroken(ComposeError):
    """The step's template cannot produce a message (missing, never saved, or a render
    error such as an unknown placeholder): the seller's to fix, so the dispatcher records
    the message as ``failed`` (shown under "Needs your attention", retryable), never as
    a silent skip."""


class ComposeRetry(ComposeError):
    """A plugin raised ``RetryLater``: the message cannot be composed *yet*."""

    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.retry_after = retry_after


def _ask(hook_call, *args):
    """Call an engine hook while composing; a plugin's ``RetryLater`` -> ``ComposeRetry``."""
    try:
        return hook_call(*args)
    except RetryLater as exc:
        raise ComposeRetry(exc.reason, exc.retry_after) from exc


@dataclass
class Composed:
    rendered: Rendered
    version: TemplateVersion | None
    findings: list
    # With ``preview``: what would stop the send, as (reason, linter rule ids), in the
    # order a send checks them. Empty for a message that can go.
    problems: list = field(default_factory=list)
    # The placeholder values it was rendered with (what the editors check typed text on).
    context: dict = field(default_factory=dict)


def language_of(locale: str) -> str:
    """ "de_DE" / "de-DE" / "de" -> "de"."""
    return locale.replace("_", "-").split("-", 1)[0].lower() if locale else ""


def buyer_language(engine, order: Order) -> str:
    lang = language_of(order.buyer_locale)
    if lang:
        return lang
    mkt = engine.marketplace(order.marketplace)
    return mkt.languages[0] if mkt else "en"


# A dispatch batch reads its steps' templates, their latest versions and those versions'
# variants in three queries (``keep_templates``) and keeps them on the step, template and
# version objects under these keys, so a batch of sends renders without a query per
# message. The copy is as fresh as the batch's orders (``core.dispatch``: re-read when
# older than a few seconds); everything else reads the database as before.
_TEMPLATES = "_batch_templates"
_LATEST = "_batch_latest_version"
_VARIANTS = "_batch_variants"


def latest_version(template: Template) -> TemplateVersion | None:
    if _LATEST in template.__dict__:
        return template.__dict__[_LATEST]
    return (
        TemplateVersion.select()
        .where(TemplateVersion.template == template)
        .order_by(TemplateVersion.number.desc())
        .first()
    )


def _template_ids(step: Step) -> set[int]:
    ids = {int(v["template"]) for v in step.variants or [] if v.get("template")}
    if step.template_id:
        ids.add(step.template_id)
    return ids


def keep_templates(steps) -> None:
    """Read the templates of ``steps`` (their own and their A/B variants'), each one's
    latest version and that version's language variants, in three queries, and keep
    them on the objects for ``template_for``, ``latest_version`` and ``variants_of``."""
    steps = list(steps)
    ids = set().union(*(_template_ids(s) for s in steps)) if steps else set()
    templates = {t.id: t for t in Template.select().where(Template.id.in_(ids))} if ids else {}
    for template in templates.values():
        template.__dict__[_LATEST] = None  # no saved version, unless one is found below
    if templates:
        newest = (
            TemplateVersion.select(
                TemplateVersion.template, fn.MAX(TemplateVersion.number).alias("number")
            )
            .where(TemplateVersion.template.in_(list(templates)))
            .group_by(TemplateVersion.template)
        )
        versions = {
            v.id: v
            for v in TemplateVersion.select().join(
                newest,
                on=(
                    (TemplateVersion.template == newest.c.template_id)
                    & (TemplateVersion.number == newest.c.number)
                ),
            )
        }
        for version in versions.values():
            version.__dict__[_VARIANTS] = []
            templates[version.template_id].__dict__[_LATEST] = version
            version.template = templates[version.template_id]
        if versions:
            rows = TemplateVariant.select().where(TemplateVariant.version.in_(list(versions)))
            for variant in rows.order_by(TemplateVariant.id):
                versions[variant.version_id].__dict__[_VARIANTS].append(variant)
    for step in steps:
        step.__dict__[_TEMPLATES] = templates
        if step.template_id in templates:
            step.template = templates[step.template_id]


def template_for(step: Step, ab_arm: str) -> Template | None:
    """The step's template, or the A/B arm's template when the message has one."""
    kept = step.__dict__.get(_TEMPLATES)
    for index, arm in enumerate(step.variants or []):
        label = arm.get("label") or chr(ord("A") + index)
        if label == ab_arm and arm.get("template"):
            if kept is not None:
                return kept.get(int(arm["template"]))
            return Template.get_or_none(Template.id == int(arm["template"]))
    return step.template


def variants_of(version: TemplateVersion) -> list[TemplateVariant]:
    """The version's language variants: those ``keep_templates`` read, else a query."""
    kept = version.__dict__.get(_VARIANTS)
    return kept if kept is not None else list(version.variants)


def language_variant(version: TemplateVersion, language: str) -> TemplateVariant | None:
    """The template version's text in ``language`` (its ``TemplateVariant``), or None."""
    variants = {v.language: v for v in variants_of(version)}
    return variants.get(language)


# Placeholders whose value is a link a plugin provides because the buyer needs it (the
# review page, the invoice, the manual): the only links Amazon allows in a message.
LINK_PLACEHOLDERS = ("review_link", "invoice_link", "manual_link")


def allowed_links(engine, order: Order, context: dict) -> tuple[str, ...]:
    links = [context.get(key) for key in LINK_PLACEHOLDERS] + [engine.invoice_url(order)]
    return tuple(dict.fromkeys(u for u in links if isinstance(u, str) and u.startswith("https://")))


def account_words(account: SellerAccount | None) -> tuple[str, ...]:
    """The product and brand names the spelling rule accepts for ``account``; for a
    campaign of every account (None), the names of all accounts."""
    if account is not None:
        return compliance.allowed_words(account.allowed_words)
    rows = SellerAccount.select(SellerAccount.allowed_words)
    return compliance.allowed_words("\n".join(a.allowed_words for a in rows))


def lint_rendered(
    engine,
    order: Order,
    step: Step | None,
    rendered: Rendered,
    channel: str,
    links=(),
    warnings: bool = False,
    message_type: str = "",
):
    inp = compliance.LintInput(
        text=rendered.text,
        html=rendered.html,
        subject=rendered.subject,
        channel=channel,
        # The step's type rules; without a step (a template previewed on its own), the
        # template's.
        message_type=step.message_type if step else message_type,
        language=rendered.language or "en",
        order_id=order.order_id,
        allowed_links=tuple(links),
        allowed_words=account_words(order.account),
    )
    # At send time only errors matter (they skip the message); warnings were shown in the
    # editor when the template was saved. Spelling is judged on the seller's own text at
    # save and activation (docs/linter.md): the words a send adds are Amazon's product
    # titles and names, which no dictionary lists.
    checks = [
        c
        for c in engine.content_checks(order.marketplace)
        if (warnings or c.severity == "error") and c.rule_id != "FU-SPELLING"
    ]
    return compliance.lint(inp, checks)


def compose(engine, order: Order, step: Step, message=None, *, preview: bool = False) -> Composed:
    """Render the step's template for ``order`` in the buyer's language and lint it.

    Raises ``NoVariant`` when no language variant fits the buyer's language, ``TemplateBroken``
    when the template is missing or cannot render, and ``ComposeError`` when the text
    may not be sent (the linter's rule ids in ``rule_ids``). With ``preview`` the
    findings include warnings (spelling, language) for the editor.
    """
    sender = engine.senders.get(step.sender)
    language = buyer_language(engine, order)
    no_body = sender is not None and not sender.needs_body
    if no_body or (step.template_id is None and step.message_type == "review_request"):
        # Request a Review: Amazon writes the text in the buyer's language.
        return Composed(Rendered("", "", language=language), None, [])
    template = template_for(step, message.variant if message is not None else "")
    if template is None:
        raise TemplateBroken("template error: the step has no template; choose one in the step")
    version = latest_version(template)
    if version is None:
        raise TemplateBroken(f"template error: template {template.name!r} has no saved version")
    localized = language_variant(version, language)
    if localized is None:
        have = ", ".join(sorted(v.language for v in variants_of(version))) or "none"
        raise NoVariant(f"skipped: no {language} variant of {template.name!r} (has {have})")
    if message is not None:
        message.language = language
    draft = Draft(
        subject=localized.subject,
        body=localized.body,
        html=localized.html,
        theme=version.theme,
        language=language,
        channel=template.channel,
        name=template.name,
    )
    composed = compose_text(engine, order, step, draft, message, preview=preview)
    if composed.problems:  # only with preview: a send raises at the first one
        reason, ids = composed.problems[0]
        raise ComposeError(reason, ids)
    composed.version = version
    return composed


@dataclass(frozen=True)
class Draft:
    """Text to compose: a saved variant, or what a seller is typing in an editor."""

    subject: str
    body: str
    language: str
    channel: str
    html: str = ""
    theme: str = ""  # an email layout wrapped around the text when there is no own HTML
    name: str = "the template"  # how errors name it
    # The linter's message type when there is no step (the Templates editor previewing a
    # template no step uses); with a step, the step's type applies, as at send time.
    message_type: str = ""


def compose_text(
    engine, order: Order, step: Step | None, draft: Draft, message=None, *, preview: bool = False
) -> Composed:
    """Render ``draft`` for ``order`` and check it exactly as a send would.

    The one composition both the dispatcher (through ``compose``) and the editors'
    previews use, so that a preview shows what would be sent. Raises ``TemplateBroken``
    when the text cannot be rendered and ``ComposeRetry`` when a plugin's data is not
    there yet. What would stop a send (no manual, too long, a compliance error) raises
    ``ComposeError`` at the first one; with ``preview`` it is listed in
    ``Composed.problems`` instead and the findings include warnings.

    ``step`` is None only for a template previewed on its own (no step uses it): then
    there are no attachments and no sender length limit, and ``draft.message_type`` is
    the type the linter applies.
    """
    context = _ask(engine.template_context, order, message)
    try:
        subject = render.render(draft.subject, context) if draft.subject else ""
        text = render.render(draft.body, context)
        html = render.render_html(draft.html, context) if draft.html else ""
        if not html and draft.channel == "email" and draft.theme:
            html = themes.html_for(draft.theme, text, subject)  # layout around the text
    except render.TemplateError as exc:
        raise TemplateBroken(
            f"template error in {draft.name!r}: {exc}; fix the template, then retry"
        ) from exc
    attachments = tuple(_ask(engine.attachments, order, message, step)) if step else ()
    rendered = Rendered(subject, text, html, language=draft.language, attachments=attachments)
    problems: list[tuple[str, tuple[str, ...]]] = []
    if manual_missing(draft.body, context, attachments):
        problems.append((f"skipped: {NO_MANUAL}", ()))
    sender = engine.senders.get(step.sender) if step is not None else None
    if sender is not None and sender.max_length and len(text) > sender.max_length:
        allowed = f"{sender.name} allows {sender.max_length}"
        problems.append((f"skipped: text is {len(text)} characters, {allowed}", ()))
    if problems and not preview:
        raise ComposeError(*problems[0])
    links = allowed_links(engine, order, context)
    findings = lint_rendered(
        engine,
        order,
        step,
        rendered,
        draft.channel,
        links,
        warnings=preview,
        message_type=draft.message_type,
    )
    errors = [f for f in findings if f.severity == "error"]
    if errors:
        ids = tuple(dict.fromkeys(f.rule_id for f in errors))
        problems.append((f"skipped: compliance {', '.join(ids)}", ids))
    if problems and not preview:
        raise ComposeError(*problems[0])
    return Composed(rendered, None, findings, problems, context)


NO_MANUAL = (
    "no manual for this product: give its https link as manual_link in the step's "
    "per-product content, or upload the manual on the Files page"
)


def manual_missing(body: str, context: dict, attachments) -> bool:
    """The text points the buyer to a manual, yet there is neither a link nor one attached.

    Product instructions are a permitted purpose only with the instructions in them
    (docs/amazon-rules.md §3); without the manual such a message is a contentless "contact us" note.
    """
    if "manual_link" not in body or context.get("manual_link"):
        return False
    return not any(a.kind == "instructions" for a in attachments)


def length_problems(engine, step: Step) -> list[str]:
    """Each language variant of the step's template that is longer than its message type
    allows, rendered with the placeholders' example values (at activation).

    The step knows its sender and message type, so the limit is known before any order
    (docs/amazon-rules.md §2.2); the rendered text is measured again at send time.
    """
    template = step.template
    version = latest_version(template) if template is not None else None
    sender = engine.senders.get(step.sender)
    if version is None or sender is None or not sender.needs_body:
        return []
    message_type = step.message_type or template.message_type
    limit = compliance.length_limit(template.channel, message_type, sender.max_length)
    if not limit:
        return []
    problems = []
    for variant in version.variants:
        try:
            text = render.render(variant.body, PLACEHOLDER_EXAMPLES)
        except render.TemplateError:
            continue  # the template check names the broken placeholder
        if len(text) > limit:
            problems.append(
                f"FU-LENGTH: the {variant.language} text is {len(text)} characters with "
                f"example values; {message_type or sender.label} allows {limit}"
            )
    return problems


def template_findings(engine, step: Step, *, sequence_has_review: bool = False) -> list:
    """Lint every language variant of the step's template source (at save/activation).

    Placeholders count as present here (``is_template_source``); the rendered text is
    linted again at send time.
    """
    template = step.template
    version = latest_version(template) if template is not None else None
    if version is None:
        return []
    findings = []
    for variant in version.variants:
        inp = compliance.LintInput(
            text=variant.body,
            html=variant.html,
            subject=variant.subject,
            channel=template.channel,
            message_type=step.message_type or template.message_type,
            language=variant.language,
            is_template_source=True,
            sequence_has_review_request=sequence_has_review,
            allowed_words=account_words(step.campaign.account),
        )
        findings.extend(compliance.lint(inp, engine.content_checks(None)))
    return findings
