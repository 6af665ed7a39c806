"""The campaign step editor: settings form, message text with a live preview rendered on
a real order and linted as it would be at send time, and add / remove / reorder.

Routes hang on ``blueprint.bp`` (``web.campaigns`` imports this module to register
them); form parsing is in ``forms``, the preview in ``preview``.
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, request, url_for

from core.campaigns import CampaignError, add_step, delete_step, move_step, update_step
from core.contracts import WAITING_STATES
from core.db import database
from core.library import load_library
from core.models import Message, Order, Step, Template
from core.templates import save_language

from .. import rule_fields
from ..audit import audit
from ..context import engine
from ..message_templates.catalog import library_copies
from ..security import current_user, requires
from .access import can_edit, get_campaign, get_step
from .blueprint import bp
from .forms import (
    PRODUCT_EXTRA_ROWS,
    parse_product_form,
    parse_step_form,
    product_rows,
    rule_errors,
    step_form,
)
from .preview import (
    PREVIEW_SCAN,
    build_preview,
    channel_of,
    needs_text,
    preview_order,
    recent_orders,
    recent_skus,
    sharing_campaigns,
    step_files,
    text_check,
    text_state,
)

EXTRA_RULE_ROWS = 1  # blank rows offered to add a rule without JavaScript
EXTRA_VARIANT_ROWS = 2
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")  # the send-window day boxes


def _editor_page(step: Step, *, form=None, errors=None, text=None, code=200, products=None):
    eng = engine()
    campaign = step.campaign
    newest = recent_orders(campaign, PREVIEW_SCAN)  # one query for the three uses below
    order = preview_order(eng, step, request.values.get("order", ""), recent=newest)
    language, languages, subject, body = text_state(
        eng, step, order, request.values.get("lang", "")
    )
    if text is not None:
        language, subject, body = text
    if form is None:
        # Rules stored before values were checked on save: say which row cannot run.
        errors = {**rule_errors(eng, step.rules or []), **(errors or {})}
    form = form or step_form(step)
    form["rules"] = form["rules"] + [{"rule": "", "params": ""}] * EXTRA_RULE_ROWS
    form["variants"] = form["variants"] + [{"template": "", "weight": "1"}] * EXTRA_VARIANT_ROWS
    recent = newest[:10]
    templates = list(Template.select().order_by(Template.name))
    imported = library_copies(templates)
    if order is not None and order not in recent:
        recent.insert(0, order)
    body_needed = needs_text(eng, step)
    if products is None:
        products = product_rows(step)
    else:  # as typed (after a 422): keep the filled rows, then offer fresh blank ones
        products = [r for r in products if r["sku"] or r["manual_link"] or r["extra"]]
    products = (
        products
        + [{"sku": "", "manual_link": "", "extra": "", "remove": False}] * PRODUCT_EXTRA_ROWS
    )
    return (
        render_template(
            "campaigns/step.html",
            campaign=campaign,
            step=step,
            form=form,
            errors=errors or {},
            eng=eng,
            weekday_names=WEEKDAYS,
            templates=templates,
            library=[t for t in load_library() if t.key not in imported],
            shared=sharing_campaigns(step),
            needs_text=body_needed,
            language=language,
            languages=languages,
            subject=subject,
            body=body,
            order=order,
            recent_orders=recent,
            preview=build_preview(eng, step, order, language, subject, body)
            if body_needed
            else None,
            can_edit=can_edit(),
            products=products,
            sku_suggestions=recent_skus(campaign, recent=newest),
            step_files=step_files(step),
            rf=rule_fields,
        ),
        code,
    )


MAX_RULE_ROW = 50


@bp.route("/<int:campaign_id>/steps/<int:step_id>/rule-fields")
def rule_fields_view(campaign_id: int, step_id: int):
    """The controls of one rule row for the rule just chosen (htmx swaps them in)."""
    step = get_step(campaign_id, step_id)
    row = request.args.get("row", type=int)
    if row is None or not 1 <= row <= MAX_RULE_ROW:
        abort(400, description=f"row: a whole number from 1 to {MAX_RULE_ROW}")
    return render_template(
        "campaigns/_rule_fields.html",
        campaign=step.campaign,
        step=step,
        n=row,
        rule_name=request.args.get("rule", ""),
        params={},
        errors={},
        eng=engine(),
        rf=rule_fields,
    )


@bp.route("/<int:campaign_id>/steps/<int:step_id>")
def step_editor(campaign_id: int, step_id: int):
    """One step: settings form, message text and its live preview."""
    return _editor_page(get_step(campaign_id, step_id))


@bp.route("/<int:campaign_id>/steps/<int:step_id>", methods=["POST"])
@requires("editor")
def save_step(campaign_id: int, step_id: int):
    """Save the step's settings; invalid input re-renders the form with 422."""
    step = get_step(campaign_id, step_id)
    eng = engine()
    values, state, errors = parse_step_form(eng, request.form)
    if not errors:
        try:
            update_step(eng, step, values, user=current_user().username)
        except CampaignError as exc:
            errors = {p.split(":", 1)[0]: p.split(":", 1)[-1].strip() for p in exc.problems}
    if errors:
        # Row errors (params-N) repeat what the "rules" entry says, next to their row.
        said = "; ".join(f"{k}: {v}" for k, v in errors.items() if not k.startswith("params-"))
        flash(f"The step was not saved: {said}", "error")
        return _editor_page(step, form=state, errors=errors, code=422)
    flash(f"Step {step.position} saved.", "success")
    return redirect(url_for("campaigns.step_editor", campaign_id=campaign_id, step_id=step_id))


def _typed_text():
    form = request.form
    return form.get("language", "en") or "en", form.get("subject", ""), form.get("body", "")


@bp.route("/<int:campaign_id>/steps/<int:step_id>/preview", methods=["POST"])
def preview(campaign_id: int, step_id: int):
    """The live preview: the typed text rendered on an order, with compliance findings.

    htmx gets the fragment; without JavaScript the "Preview" button reloads the page.
    """
    step = get_step(campaign_id, step_id)
    eng = engine()
    if not request.headers.get("HX-Request"):
        return _editor_page(step, text=_typed_text())
    language, subject, body = _typed_text()
    order = preview_order(eng, step, request.form.get("order", ""))
    return render_template(
        "campaigns/_preview.html",
        preview=build_preview(eng, step, order, language, subject, body),
        language=language,
        step=step,
    )


def _text_problem(
    eng, step: Step, order: Order | None, language: str, subject: str, body: str
) -> str:
    """Why the typed text must not be saved ("" when it may).

    A text that cannot render is refused exactly as the Templates editor refuses it (one
    core check), on ``order``, the one the preview shows, before anything is stored.
    """
    if not re.fullmatch(r"[a-z]{2,3}", language):
        return "the language must be a 2- or 3-letter code such as en or de"
    if not body.strip():
        return "write the message"
    return "; ".join(text_check(eng, step, order, language, subject, body).errors)


def _store_text(eng, step: Step, language: str, subject: str, body: str):
    """(template, new version): the step's template, created for it if it has none, with
    the text as its next version. One transaction: a refused step keeps no new template."""
    user = current_user().username
    with database.atomic():
        template = step.template
        if template is None:
            template = Template.create(
                name=f"{step.campaign.name}: {step.name or step.trigger}"[:120],
                channel=channel_of(step),
                message_type=step.message_type,
            )
            update_step(eng, step, {"template": template.id}, user=user)
        saved = save_language(
            template, language, subject, body, user=user, note=f"campaign editor ({language})"
        )
    return template, saved


@bp.route("/<int:campaign_id>/steps/<int:step_id>/text", methods=["POST"])
@requires("editor")
def save_text(campaign_id: int, step_id: int):
    """Save the typed text as a new version of the step's template (one language)."""
    step = get_step(campaign_id, step_id)
    eng = engine()
    language, subject, body = _typed_text()
    # One order for the check before saving and the compliance count after it: the one
    # the seller previewed (its rules scan is not free).
    order = preview_order(eng, step, request.form.get("order", ""))
    problem = _text_problem(eng, step, order, language, subject, body)
    if not problem:
        try:
            template, saved = _store_text(eng, step, language, subject, body)
        except CampaignError as exc:  # the step itself cannot take a template as it is
            problem = "fix the step's settings first: " + "; ".join(exc.problems)
    if problem:
        flash(f"Not saved: {problem}.", "error")
        typed = (language, subject, body)
        return _editor_page(step, errors={"body": problem}, text=typed, code=422)
    step = Step.get_by_id(step.id)
    result = build_preview(eng, step, order, language, subject, body)
    if result["errors"]:
        flash(
            f"Saved as version {saved.number} of “{template.name}”, but it has "
            f"{len(result['errors'])} compliance error(s): the campaign cannot be activated "
            "until they are fixed.",
            "error",
        )
    else:
        flash(f"Saved as version {saved.number} of “{template.name}”.", "success")
    return redirect(
        url_for("campaigns.step_editor", campaign_id=campaign_id, step_id=step_id, lang=language)
    )


@bp.route("/<int:campaign_id>/steps/new", methods=["POST"])
@requires("editor")
def new_step(campaign_id: int):
    """Append a step and open it in the editor."""
    campaign = get_campaign(campaign_id)
    step = add_step(engine(), campaign, user=current_user().username)
    flash(f"Step {step.position} added. Set its trigger, timing and message.", "success")
    return redirect(url_for("campaigns.step_editor", campaign_id=campaign_id, step_id=step.id))


def _waiting_count(step: Step) -> int:
    return (
        Message.select()
        .where((Message.step == step.id) & Message.state.in_(tuple(WAITING_STATES)))
        .count()
    )


def _remove_page(step: Step, code: int = 200):
    return (
        render_template(
            "campaigns/confirm_remove.html",
            campaign=step.campaign,
            step=step,
            waiting=_waiting_count(step),
            eng=engine(),
            can_edit=can_edit(),
        ),
        code,
    )


@bp.route("/<int:campaign_id>/steps/<int:step_id>/delete")
def confirm_remove_step(campaign_id: int, step_id: int):
    """The confirmation form for removing a step (works without JavaScript)."""
    return _remove_page(get_step(campaign_id, step_id))


@bp.route("/<int:campaign_id>/steps/<int:step_id>/delete", methods=["POST"])
@requires("editor")
def remove_step(campaign_id: int, step_id: int):
    """Remove a confirmed step; its waiting messages are cancelled with that reason.

    Without the ``confirm`` box ticked nothing is removed (422 with the form again).
    htmx asks in a dialog and sends ``confirm=yes``; it then navigates like a redirect.
    """
    step = get_step(campaign_id, step_id)
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation box to remove the step.", "error")
        return _remove_page(step, 422)
    label = step.name or step.trigger
    waiting = _waiting_count(step)
    delete_step(engine(), step, user=current_user().username)
    flash(
        f"Step “{label}” removed; {waiting} waiting message{'s' if waiting != 1 else ''} "
        "cancelled.",
        "success",
    )
    target = url_for("campaigns.detail", campaign_id=campaign_id)
    if request.headers.get("HX-Request"):
        return "", 204, {"HX-Redirect": target}
    return redirect(target)


@bp.route("/<int:campaign_id>/steps/<int:step_id>/products", methods=["POST"])
@requires("editor")
def save_products(campaign_id: int, step_id: int):
    """Save the per-product content table (SKU -> manual link and extra keys).

    Saved through ``update_step`` so scheduled messages are re-planned; a bad row
    re-renders the page with 422 and the field named.
    """
    step = get_step(campaign_id, step_id)
    content, rows, errors = parse_product_form(request.form)
    if not errors:
        try:
            update_step(engine(), step, {"product_content": content}, user=current_user().username)
        except CampaignError as exc:
            errors = {"products": "; ".join(exc.problems) or str(exc)}
    if errors:
        flash("Per-product content not saved: " + "; ".join(errors.values()), "error")
        return _editor_page(step, errors=errors, products=rows, code=422)
    audit("step_product_content", f"step {step.id}", ", ".join(sorted(content)) or "(none)")
    flash(
        f"Per-product content saved for {len(content)} SKU{'s' if len(content) != 1 else ''}.",
        "success",
    )
    return redirect(
        url_for("campaigns.step_editor", campaign_id=campaign_id, step_id=step_id)
        + "#product-content"
    )


@bp.route("/<int:campaign_id>/steps/<int:step_id>/move", methods=["POST"])
@requires("editor")
def reorder_step(campaign_id: int, step_id: int):
    """Move a step one place up or down in the timeline."""
    step = get_step(campaign_id, step_id)
    move_step(
        step, -1 if request.form.get("direction") == "up" else 1, user=current_user().username
    )
    flash(f"Step “{step.name or step.trigger}” moved.", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign_id))
