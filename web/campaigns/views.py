"""The campaign pages: the list, creation from a preset, the campaign page (timeline of
steps, dry run, A/B counts), its edit form and status changes behind a confirmation form.

The step editor is in ``steps``; both hang their routes on ``blueprint.bp``.
"""

from __future__ import annotations

from collections import defaultdict

from flask import (
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from peewee import JOIN, fn

from core import abtest
from core.activation import ActivationError, check_backlog_days
from core.activation import preview as activation_preview
from core.campaigns import (
    STATUSES,
    CampaignError,
    campaign_problems,
    create_campaign,
    create_from_preset,
    dry_run,
    set_status,
    update_campaign,
)
from core.contracts import SENDING_STATUSES
from core.models import Campaign, Message, SellerAccount, Step

from ..audit import audit
from ..context import engine
from ..converters import is_id
from ..downloads import content_disposition
from ..security import current_user, requires
from .access import can_edit, get_campaign, get_step
from .blueprint import bp

# Each count links to the Messages page filtered by exactly that state, so the number
# and the list behind it agree (retry and in-doubt messages are waiting too, but are not
# "scheduled": they are shown next to it with their own link).
COUNT_LABELS = (
    ("scheduled", "scheduled"),
    ("retry", "to retry"),
    ("in_doubt", "in doubt"),
    ("sending", "sending"),
    ("sent", "sent"),
    ("skipped", "skipped"),
    ("failed", "failed"),
)
COUNT_COLUMNS = tuple(key for key, _ in COUNT_LABELS)
# What each status means to the seller, shown on the confirmation form.
STATUS_HELP = {
    "active": "Messages are planned for matching orders and sent when due. Orders "
    "placed before the start you choose below are left out, each with that reason.",
    "test": "Messages are planned but go through the dry-run sender: nothing leaves "
    "the machine, and every message is labelled “dry run”.",
    "paused": "Nothing is sent. Scheduled messages wait, with the reason “campaign "
    "paused”, and go out when you activate the campaign again (if still allowed).",
    "draft": "Nothing is planned or sent; scheduled messages wait.",
}
STATUS_VERBS = {
    "active": "Activate",
    "test": "Switch to test mode",
    "paused": "Pause",
    "draft": "Back to draft",
}


def message_counts(campaign_ids) -> dict[int, dict[str, int]]:
    """{campaign id: {state: count}} for the states in ``COUNT_COLUMNS``, one query."""
    out: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_COLUMNS, 0))
    rows = (
        Message.select(Message.campaign, Message.state, fn.COUNT(Message.id))
        .where(Message.campaign.in_(list(campaign_ids)))
        .group_by(Message.campaign, Message.state)
        .tuples()
    )
    for campaign_id, state, count in rows:
        if state in COUNT_COLUMNS:
            out[campaign_id][state] += count
    return out


@bp.route("/")
def index():
    """Every campaign with its status and message counts."""
    campaigns = list(
        Campaign.select(Campaign, SellerAccount)
        .join(SellerAccount, JOIN.LEFT_OUTER)
        .order_by(Campaign.status, Campaign.name)
    )
    counts = message_counts(c.id for c in campaigns)
    steps = dict(Step.select(Step.campaign, fn.COUNT(Step.id)).group_by(Step.campaign).tuples())
    return render_template(
        "campaigns/index.html",
        campaigns=campaigns,
        counts=counts,
        steps=steps,
        can_edit=can_edit(),
        count_labels=COUNT_LABELS,
    )


@bp.route("/new")
def new():
    """Pick a marketplace and FBA/FBM, then a preset; or start a blank campaign."""
    return _new_page(request.args.get("marketplace", ""), request.args.get("fulfillment", ""))


def _new_page(marketplace: str, fulfillment: str, error: CampaignError | None = None):
    eng = engine()
    if marketplace not in eng.marketplaces:
        marketplace = next(iter(sorted(eng.marketplaces)), "")
    if fulfillment not in ("FBA", "FBM"):
        fulfillment = "FBA"
    return render_template(
        "campaigns/new.html",
        marketplaces=sorted(eng.marketplaces.values(), key=lambda m: m.code),
        marketplace=marketplace,
        fulfillment=fulfillment,
        presets=eng.presets(marketplace, fulfillment) if marketplace else [],
        accounts=list(SellerAccount.select().order_by(SellerAccount.name)),
        can_edit=can_edit(),
        error=error,
        name=request.values.get("name", ""),
    )


def _account(value: str):
    if is_id(value):
        return SellerAccount.get_or_none(SellerAccount.id == int(value))
    return None


@bp.route("/new", methods=["POST"])
@requires("editor")
def create():
    """Create a draft campaign from a preset (one click) or a blank one."""
    eng = engine()
    form = request.form
    account = _account(form.get("account", ""))
    user = current_user().username
    try:
        if form.get("preset"):
            marketplace, fulfillment = form.get("marketplace", ""), form.get("fulfillment", "")
            preset = next(
                (p for p in eng.presets(marketplace, fulfillment) if p.name == form["preset"]),
                None,
            )
            if preset is None:
                abort(400, description="That preset is not offered for this marketplace.")
            campaign = create_from_preset(eng, preset, account=account, user=user)
        else:
            campaign = create_campaign(eng, form.get("name", ""), [], account=account, user=user)
    except CampaignError as exc:
        flash(f"Not created: {exc}.", "error")
        return _new_page(form.get("marketplace", ""), form.get("fulfillment", ""), exc), 422
    flash(
        f"Campaign “{campaign.name}” created as a draft. Review its steps, then activate it.",
        "success",
    )
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>")
def detail(campaign_id: int):
    """The campaign: its steps as a timeline, problems blocking activation, A/B counts."""
    return _detail_page(get_campaign(campaign_id))


def _detail_page(campaign: Campaign, errors: dict | None = None, code: int = 200):
    eng = engine()
    steps = list(campaign.steps.order_by(Step.position))
    tested = [s for s in steps if s.variants or s.holdout_percent]
    ab = {s.id: abtest.variant_counts(s) for s in tested}
    has_outcomes = abtest.Outcome.select().exists()
    # Crediting reads every message of the step: only once the seller imported outcomes.
    outcomes = {s.id: abtest.outcomes_by_variant(s) for s in tested} if has_outcomes else {}
    return render_template(
        "campaigns/detail.html",
        campaign=campaign,
        steps=steps,
        problems=campaign_problems(eng, campaign),
        counts=message_counts([campaign.id])[campaign.id],
        count_labels=COUNT_LABELS,
        ab=ab,
        outcomes=outcomes,
        has_outcomes=has_outcomes,
        eng=eng,
        can_edit=can_edit(),
        verbs=STATUS_VERBS,
        accounts=list(SellerAccount.select().order_by(SellerAccount.name)),
        errors=errors or {},
    ), code


@bp.route("/<int:campaign_id>", methods=["POST"])
@requires("editor")
def edit(campaign_id: int):
    """Rename the campaign, change its description or the seller account it serves."""
    campaign = get_campaign(campaign_id)
    try:
        update_campaign(
            engine(),
            campaign,
            name=request.form.get("name", ""),
            description=request.form.get("description", ""),
            account=_account(request.form.get("account", "")),
            user=current_user().username,
        )
    except CampaignError:
        flash("Not saved: the campaign needs a name (at most 120 characters).", "error")
        return _detail_page(campaign, {"name": "give the campaign a name"}, 422)
    flash(f"Campaign “{campaign.name}” saved.", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/dry-run")
def dry_run_view(campaign_id: int):
    """What the campaign would have done over the last N days, sending nothing."""
    campaign = get_campaign(campaign_id)
    days = request.args.get("days", "30")
    days = int(days) if is_id(days) and 1 <= int(days) <= 365 else 30
    report = dry_run(engine(), campaign, days=days)
    template = (
        "campaigns/_dry_run.html" if request.headers.get("HX-Request") else "campaigns/dry_run.html"
    )
    return render_template(template, campaign=campaign, report=report, days=days)


@bp.route("/<int:campaign_id>/status")
def confirm_status(campaign_id: int):
    """The confirmation form for a status change (works without JavaScript)."""
    campaign = get_campaign(campaign_id)
    status = request.args.get("to", "")
    if status not in STATUSES:
        abort(400, description=f"Unknown status; choose one of {', '.join(STATUSES)}.")
    problems = campaign_problems(engine(), campaign) if status in SENDING_STATUSES else []
    return _confirm_page(campaign, status, problems, choice=_backlog_choice(campaign, request.args))


def _backlog_choice(campaign: Campaign, values) -> dict:
    """The activation's backlog choice as asked on the form: ``orders`` is ``new`` (the
    default), ``days`` (with ``days``) or ``keep`` (a resumed campaign's cut-off);
    ``backlog_days`` is what ``core.campaigns.set_status`` takes, ``error`` what to fix."""
    orders = values.get("orders", "")
    if orders not in ("new", "days", "keep") or (orders == "keep" and not campaign.orders_from):
        orders = "keep" if campaign.orders_from else "new"
    days = values.get("days", "30").strip()
    choice = {"orders": orders, "days": days, "backlog_days": None, "error": ""}
    if orders == "new":
        choice["backlog_days"] = 0
    elif orders == "days":
        try:
            choice["backlog_days"] = check_backlog_days(days or "")
        except ActivationError as exc:
            choice["error"] = str(exc).removeprefix("days: ")
        if choice["backlog_days"] is None and not choice["error"]:
            choice["error"] = "enter how many days back, e.g. 30"
    return choice


def _confirm_page(campaign, status, problems, code=200, choice=None):
    report = None
    if status == "active" and campaign.status != "active" and not problems and choice:
        if not choice["error"]:
            report = activation_preview(engine(), campaign, choice["backlog_days"])
        elif code == 200:
            code = 422
    return (
        render_template(
            "campaigns/confirm.html",
            campaign=campaign,
            status=status,
            problems=problems,
            help=STATUS_HELP[status],
            verb=STATUS_VERBS[status],
            can_edit=can_edit(),
            choice=choice,
            report=report,
        ),
        code,
    )


@bp.route("/<int:campaign_id>/status", methods=["POST"])
@requires("editor")
def change_status(campaign_id: int):
    """Apply a confirmed status change; activation is refused while problems remain."""
    campaign = get_campaign(campaign_id)
    status = request.form.get("to", "")
    if status not in STATUSES:
        abort(400, description=f"Unknown status; choose one of {', '.join(STATUSES)}.")
    choice = _backlog_choice(campaign, request.form)
    if request.form.get("confirm") != "yes":
        flash("Tick the confirmation box to change the status.", "error")
        return _confirm_page(campaign, status, [], 422, choice)
    if status == "active" and choice["error"]:
        flash(f"Not changed: days: {choice['error']}.", "error")
        return _confirm_page(campaign, status, [], 422, choice)
    try:
        set_status(
            engine(),
            campaign,
            status,
            user=current_user().username,
            backlog_days=choice["backlog_days"],
        )
    except CampaignError as exc:
        flash(f"Not changed: {exc}. Fix the problems listed below first.", "error")
        return _confirm_page(campaign, status, exc.problems, 422, choice)
    if status == "active" and campaign.orders_from:
        flash(
            f"Campaign “{campaign.name}” is now active, for orders placed from "
            f"{campaign.orders_from:%Y-%m-%d %H:%M} UTC.",
            "success",
        )
        return redirect(url_for("campaigns.detail", campaign_id=campaign.id))
    flash(f"Campaign “{campaign.name}” is now {status}.", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id))


@bp.route("/<int:campaign_id>/outcomes", methods=["POST"])
@requires("editor")
def import_outcomes(campaign_id: int):
    """Attach measured results (e.g. new reviews per ASIN and period) to the A/B tests."""
    campaign = get_campaign(campaign_id)
    upload = request.files.get("outcomes")
    text = upload.read().decode("utf-8-sig", "replace") if upload and upload.filename else ""
    if not text.strip():
        flash("Nothing imported: choose a CSV file with at least one row.", "error")
        return _detail_page(campaign, {"outcomes": "choose a CSV file"}, 422)
    try:
        stored = abtest.import_outcomes(text)
    except abtest.OutcomeError as exc:
        flash(f"Nothing imported: {exc}. Fix the file and upload it again.", "error")
        return _detail_page(campaign, {"outcomes": str(exc)}, 422)
    audit("outcomes_imported", campaign.name, f"{stored} rows")
    flash(f"{stored} outcome row(s) imported; the A/B tables below now include them.", "success")
    return redirect(url_for("campaigns.detail", campaign_id=campaign.id) + "#outcomes")


@bp.route("/<int:campaign_id>/steps/<int:step_id>/ab.csv")
def ab_csv(campaign_id: int, step_id: int):
    """The step's A/B counts per variant and state as CSV."""
    step = get_step(campaign_id, step_id)
    return Response(
        abtest.export_csv(step),
        mimetype="text/csv",
        headers={
            "Content-Disposition": content_disposition(
                f"campaign-{campaign_id}-step-{step.position}-ab.csv"
            )
        },
    )
