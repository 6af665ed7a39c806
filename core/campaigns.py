"""Campaign life cycle: create (from a preset), edit, activate, pause, dry run.

Every change that affects messages goes through here so that not-yet-sent messages
follow the campaign: an edit re-plans its steps (scheduled messages move, or are
cancelled with the new reason), a pause leaves them waiting with a visible reason, and an
activation is refused while a template of the campaign has a compliance error.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from .activation import ActivationError, choose_cutoff, reason_key
from .campaign_moves import cancel_left_behind
from .clock import utcnow
from .compose import ComposeError, compose, length_problems, template_findings
from .contracts import CANCELLED, SCHEDULED, SENDING_STATUSES, WAITING_STATES, Preset
from .db import database
from .decide import SEND, SIMULATE, decide, probe
from .live import count_live
from .models import AuditLog, Campaign, Message, Order, Step, Template
from .planning import (
    PlanResult,
    is_review_request,
)
from .planning_bulk import replan
from .templates import import_from_library

log = logging.getLogger(__name__)

STATUSES = ("draft", "test", "active", "paused")
STEP_FIELDS = (
    "name",
    "trigger",
    "delay_days",
    "delay_hours",
    "anchor",
    "window_start_hour",
    "window_end_hour",
    "weekdays",
    "skip_holidays",
    "rules",
    "sender",
    "message_type",
    "priority",
    "no_variant_policy",
    "critical",
    "variants",
    "holdout_percent",
    "product_content",
)


class CampaignError(ValueError):
    """A campaign cannot be saved or activated as asked; ``problems`` lists why."""

    def __init__(self, message: str, problems: list[str] | None = None):
        super().__init__(message)
        self.problems = problems or []


def validate_step(engine, values: dict) -> dict[str, str]:
    """Field -> problem for a step's form values (empty when valid)."""
    problems: dict[str, str] = {}
    if values.get("trigger") not in engine.triggers:
        problems["trigger"] = f"choose one of: {', '.join(engine.triggers)}"
    if values.get("sender") not in engine.senders:
        problems["sender"] = f"choose one of: {', '.join(engine.senders)}"
    for key, low, high in (
        ("delay_days", 0, 365),
        ("delay_hours", 0, 23),
        ("window_start_hour", 0, 23),
        ("window_end_hour", 1, 24),
        ("priority", 1, 9),
        ("holdout_percent", 0, 90),
    ):
        value = values.get(key)
        if value is not None and not (isinstance(value, int) and low <= value <= high):
            problems[key] = f"a whole number from {low} to {high}"
    start, end = values.get("window_start_hour", 9), values.get("window_end_hour", 18)
    if "window_end_hour" not in problems and isinstance(start, int) and isinstance(end, int):
        if end <= start:
            problems["window_end_hour"] = "the send window must end after it starts"
    weekdays = values.get("weekdays", "0123456")
    if not weekdays or any(c not in "0123456" for c in weekdays):
        problems["weekdays"] = "pick at least one weekday"
    if values.get("anchor", "event") not in ("event", "review_window"):
        problems["anchor"] = "event or review_window"
    for _n, label, param, why in rule_problems(engine, values.get("rules")):
        key = "rules" if not param else f"rules › {label} › {param}"
        if key in problems:  # the same rule twice, both wrong: say the second too
            problems[key] += f"; {why}"
        else:
            problems[key] = why
    return problems


def rule_problems(engine, rules) -> list[tuple[int, str, str, str]]:
    """(row number, rule label, parameter, what is wrong) for each rule row that cannot
    run as stored: an unknown rule (parameter ``""``), or a value its ``validate`` refuses.

    Rows count from 1 in the order stored. A validator that raises is reported as a
    problem of the rule, never passed on: a plugin's bug must not break the editor.
    """
    out: list[tuple[int, str, str, str]] = []
    for n, row in enumerate(rules or [], 1):
        name = row.get("rule") if isinstance(row, dict) else None
        rule = engine.rules.get(name)
        if rule is None:
            out.append((n, str(name), "", f"unknown rule {name!r} (plugin disabled?)"))
            continue
        params = row.get("params") or {}
        if not isinstance(params, dict):
            out.append((n, rule.label, "params", "parameters must be name: value pairs"))
            continue
        if rule.validate is None:
            continue
        try:
            found = rule.validate(params) or {}
        except Exception as exc:  # noqa: BLE001 - shown to the seller as the rule's problem
            log.exception("rule %s: validate failed", rule.name)
            found = {"params": f"cannot be checked ({type(exc).__name__}: {exc})"}
        out.extend((n, rule.label, str(key), str(why)) for key, why in found.items())
    return out


def create_campaign(
    engine,
    name: str,
    steps: list[dict],
    *,
    account=None,
    preset: str = "",
    description: str = "",
    user: str = "",
) -> Campaign:
    """A new draft campaign with ``steps`` (dicts of Step fields, plus ``template`` as a
    Template, its id, or a library key)."""
    if not name.strip():
        raise CampaignError("give the campaign a name", ["name: required"])
    problems = [
        f"step {n}: {k}: {v}"
        for n, s in enumerate(steps, 1)
        for k, v in validate_step(engine, s).items()
    ]
    if problems:
        raise CampaignError("the campaign has invalid steps", problems)
    with database.atomic():
        campaign = Campaign.create(
            name=name.strip(),
            status="draft",
            account=account,
            preset=preset,
            description=description,
        )
        for position, values in enumerate(steps, 1):
            Step.create(
                campaign=campaign,
                position=position,
                template=_template(values),
                **{k: values[k] for k in STEP_FIELDS if k in values},
            )
        AuditLog.create(user=user, action="campaign_created", target=campaign.name, detail=preset)
    return campaign


def _template(values: dict):
    ref = values.get("template")
    if ref is None or ref == "":
        return None
    if isinstance(ref, Template):
        return ref
    if isinstance(ref, int) or str(ref).isdigit():
        return Template.get_or_none(Template.id == int(ref))
    # A preset names library templates by key: the seller's copy, imported on first use.
    try:
        return import_from_library(str(ref))
    except ValueError:  # no such library template
        return None


def create_from_preset(engine, preset: Preset, *, account=None, user: str = "") -> Campaign:
    """One click: a draft campaign from a plugin's preset, to be edited, then activated."""
    return create_campaign(
        engine,
        preset.label,
        [dict(step) for step in preset.steps],
        account=account,
        preset=preset.name,
        description=preset.description,
        user=user,
    )


def update_step(engine, step: Step, values: dict, *, user: str = "") -> Step:
    """Change a step; its not-yet-sent messages are re-planned right away."""
    merged = {k: getattr(step, k) for k in STEP_FIELDS} | values
    problems = validate_step(engine, merged)
    if problems:
        raise CampaignError("the step is invalid", [f"{k}: {v}" for k, v in problems.items()])
    for key in STEP_FIELDS:
        if key in values:
            setattr(step, key, values[key])
    if "template" in values:
        step.template = _template(values)
    step.updated_at = utcnow()
    step.save()
    AuditLog.create(user=user, action="step_updated", target=f"step {step.id}")
    if step.campaign.status in SENDING_STATUSES:
        replan_campaign(engine, step.campaign)
    return step


NAME_MAX = 120  # Campaign.name's column width
# ``account=`` left out: None cannot mean "unchanged", it means "every seller account".
_UNCHANGED: Any = object()


def update_campaign(
    engine,
    campaign: Campaign,
    *,
    name: str | None = None,
    description: str | None = None,
    account: Any = _UNCHANGED,
    user: str = "",
) -> Campaign:
    """Rename a campaign, change its description or the seller account it serves
    (``None``: every account); an argument left out keeps its value.

    A campaign that moves to another account stops for the one it left: its unsent
    messages for other accounts' orders are cancelled with the reason, in the same
    transaction as the move (``core.campaign_moves``; messages being sent or sent are
    untouched). One that plans (active or test) is then re-planned, after the change is
    committed, for the new account. A blank or too long name raises ``CampaignError``
    before anything changes.
    """
    if name is not None:
        name = name.strip()
        if not name or len(name) > NAME_MAX:
            raise CampaignError(
                f"the campaign needs a name (at most {NAME_MAX} characters)",
                ["name: give the campaign a name"],
            )
    moved = account is not _UNCHANGED and (account.id if account else None) != campaign.account_id
    with database.atomic():
        if name is not None:
            campaign.name = name
        if description is not None:
            campaign.description = description.strip()
        if account is not _UNCHANGED:
            campaign.account = account
        campaign.updated_at = utcnow()
        campaign.save()
        detail = ""
        if moved:
            cancelled = cancel_left_behind(campaign, account)
            where = f"account {account.name}" if account else "every seller account"
            detail = f"moved to {where}; {cancelled} unsent messages cancelled"
        AuditLog.create(user=user, action="campaign_edited", target=campaign.name, detail=detail)
    if moved and campaign.status in SENDING_STATUSES:
        replan_campaign(engine, campaign)
    return campaign


def campaign_problems(engine, campaign: Campaign) -> list[str]:
    """Why the campaign cannot be activated: invalid steps, templates with lint errors."""
    problems = []
    steps = list(campaign.steps.order_by(Step.position))
    if not steps:
        problems.append("the campaign has no steps")
    reviews = 0
    for step in steps:
        label = f"step {step.position} ({step.name or step.trigger})"
        for key, why in validate_step(engine, {k: getattr(step, k) for k in STEP_FIELDS}).items():
            problems.append(f"{label}: {key}: {why}")
        sender = engine.senders.get(step.sender)
        if is_review_request(engine, step):
            reviews += 1
        if sender is not None and sender.needs_body and step.message_type != "review_request":
            if step.template_id is None:
                problems.append(f"{label}: choose a template")
                continue
        if step.template_id is not None:
            problems.extend(f"{label}: {p}" for p in length_problems(engine, step))
            for finding in template_findings(engine, step, sequence_has_review=reviews > 1):
                if finding.severity == "error":
                    problems.append(
                        f"{label}: {finding.rule_id}: {finding.explanation} ({finding.excerpt!r})"
                    )
    if reviews > 1:
        # Request a Review and a free-text review request count as two (docs/amazon-rules.md §3).
        problems.append("the campaign asks for a review more than once per order")
    return problems


def set_status(
    engine,
    campaign: Campaign,
    status: str,
    *,
    user: str = "",
    backlog_days: int | None = None,
) -> Campaign:
    """Move a campaign between draft, test, active and paused.

    Going live sets the activation cut-off (``core.activation``): orders placed before
    it are excluded. ``backlog_days=None`` keeps a resumed campaign's cut-off and is
    "new orders only" for one never activated; ``N`` also takes the last N days' orders.

    All or nothing: activation is refused while ``campaign_problems`` finds any (a rule
    value stored before values were validated included), before anything changes. The
    re-plan runs after the status is committed (it may take a while and must not hold
    the write lock); should it still fail, the previous status is put back and the error
    raised, so a campaign never stays active after an activation that failed.
    """
    if status not in STATUSES:
        raise CampaignError(f"status must be one of {', '.join(STATUSES)}")
    if status in SENDING_STATUSES:
        problems = campaign_problems(engine, campaign)
        if problems:
            raise CampaignError(f"cannot switch {campaign.name!r} to {status}", problems)
    previous, old_cutoff = campaign.status, campaign.orders_from
    cutoff = old_cutoff
    if status == "active" and previous != "active":
        try:
            cutoff = choose_cutoff(campaign, backlog_days)
        except ActivationError as exc:
            raise CampaignError(str(exc), [str(exc)]) from exc
    _write_status(campaign, status, previous, user, cutoff)
    if status in SENDING_STATUSES:
        try:
            replan_campaign(engine, campaign)
        except Exception:
            log.exception("campaign %s: re-plan failed; back to %s", campaign.id, previous)
            _write_status(campaign, previous, status, user, old_cutoff)
            raise
    return campaign


def _write_status(campaign: Campaign, status: str, previous: str, user: str, cutoff=None) -> None:
    """The status, the cut-off, its audit entry and the waiting messages' reason, in one
    transaction."""
    detail = f"was {previous}"
    if cutoff is not None and cutoff != campaign.orders_from:
        detail += f"; orders from {cutoff:%Y-%m-%d %H:%M} UTC"
    with database.atomic():
        campaign.status = status
        campaign.orders_from = cutoff
        campaign.updated_at = utcnow()
        campaign.save()
        AuditLog.create(user=user, action=f"campaign_{status}", target=campaign.name, detail=detail)
        if status == "paused":
            Message.update(reason="waiting: campaign paused", updated_at=utcnow()).where(
                (Message.campaign == campaign) & (Message.state == SCHEDULED)
            ).execute()
        elif status in SENDING_STATUSES:
            Message.update(reason="").where(
                (Message.campaign == campaign)
                & (Message.state == SCHEDULED)
                & (Message.reason == "waiting: campaign paused")
            ).execute()


REPLAN_LEASE = timedelta(hours=2)  # longer than the largest re-plan measured (bench/)


def replan_campaign(engine, campaign: Campaign) -> PlanResult | None:
    """Re-plan every order against this campaign's steps only.

    Up to ``[planning] inline_replan_max_orders`` orders, at once (the seller sees the
    result on the next page). Beyond that a web request would wait minutes, so the request
    is stored on the campaign and the worker's tick re-plans it (``run_pending_replans``);
    returns ``None`` then. Until it runs, dispatch re-checks rules and vetoes on every
    message anyway, so nothing is sent that the edited campaign forbids.
    """
    limit = engine.settings.get("planning", "inline_replan_max_orders")
    # Only live orders are re-planned (core.live): years of history do not make an
    # edit wait for the worker.
    steps = list(campaign.steps)
    if count_live(utcnow(), steps, campaign.account_id, limit) > limit:
        campaign.replan_requested_at = utcnow()
        Campaign.update(replan_requested_at=campaign.replan_requested_at).where(
            Campaign.id == campaign.id
        ).execute()
        log.info(
            "campaign %s: re-plan of more than %s orders left to the worker", campaign.id, limit
        )
        return None
    return _replan_now(engine, campaign)


def _replan_now(engine, campaign: Campaign) -> PlanResult:
    steps = list(
        Step.select(Step, Campaign)
        .join(Campaign)
        .where(Step.campaign == campaign)
        .order_by(Step.position)
    )
    return replan(engine, steps=steps)


def run_pending_replans(engine) -> int:
    """Re-plan the campaigns whose edit asked the worker to (see ``replan_campaign``).

    Each is taken under a lease, so a second worker thread skips it; the request is
    cleared only when no newer edit came in meanwhile, and a crash leaves it for the next
    tick (re-planning is idempotent). Returns how many campaigns were re-planned.
    """
    done = 0
    pending = Campaign.select().where(Campaign.replan_requested_at.is_null(False))
    for campaign in pending:
        started = utcnow()
        claimed = (
            Campaign.update(replan_lease_until=started + REPLAN_LEASE)
            .where(
                (Campaign.id == campaign.id)
                & (Campaign.replan_lease_until.is_null() | (Campaign.replan_lease_until < started))
            )
            .execute()
        )
        if not claimed:
            continue
        result = _replan_now(engine, campaign)
        Campaign.update(replan_lease_until=None).where(Campaign.id == campaign.id).execute()
        Campaign.update(replan_requested_at=None).where(
            (Campaign.id == campaign.id) & (Campaign.replan_requested_at <= started)
        ).execute()
        log.info("campaign %s re-planned by the worker: %s", campaign.id, result)
        done += 1
    return done


@dataclass
class DryRun:
    """What a campaign would have done over past orders, without sending or saving."""

    orders: int = 0
    would_send: int = 0
    skipped: int = 0
    waiting: int = 0
    reasons: Counter = field(default_factory=Counter)
    examples: list[tuple[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # steps whose rules cannot run

    def top_reasons(self, n: int = 8) -> list[tuple[str, int]]:
        return self.reasons.most_common(n)


def dry_run(engine, campaign: Campaign, days: int = 30, limit: int = 5000) -> DryRun:
    """Run ``campaign`` over orders placed in the last ``days`` days, sending nothing."""
    report = DryRun()
    since = utcnow() - timedelta(days=days)
    steps = list(campaign.steps.order_by(Step.position))
    # Said once at the top, not only order by order: the seller fixes the step, not orders.
    for step in steps:
        report.problems += [
            f"step {step.position} ({step.name or step.trigger}): rules › {label}"
            + (f" › {param}" if param else "")
            + f": {why}"
            for _n, label, param, why in rule_problems(engine, step.rules)
        ]
    orders = Order.select().where(Order.purchased_at >= since).order_by(Order.id.desc())
    if campaign.account_id:
        orders = orders.where(Order.account == campaign.account_id)
    for order in orders.limit(limit):
        report.orders += 1
        for step in steps:
            reason = _dry_step(engine, order, step, compose, ComposeError)
            if reason is None:
                report.would_send += 1
            elif reason.startswith("waiting:"):
                report.waiting += 1
                report.reasons[reason_key(reason)] += 1
            else:
                report.skipped += 1
                report.reasons[reason_key(reason)] += 1
                if len(report.examples) < 20:
                    report.examples.append((order.order_id, reason))
    return report


def _dry_step(engine, order, step, compose, compose_error) -> str | None:
    """What would have happened to ``order`` under ``step``: None (sent) or the reason.

    The decision is ``core.decide``'s, with Amazon's time-bound vetoes judged at the
    message's due time; then the text is composed as the dispatcher would.
    """
    probe_message = probe(engine, order, step, dry_run=True)
    verdict = decide(engine, order, step, mode=SIMULATE, message=probe_message)
    if verdict.outcome != SEND:
        return verdict.reason
    try:
        compose(engine, order, step, probe_message)
    except compose_error as exc:
        return exc.reason
    return None


# -- step list editing (the campaign editor's add / remove / reorder buttons) -------------


def add_step(engine, campaign: Campaign, values: dict | None = None, *, user: str = "") -> Step:
    """Append a step (a delivered-triggered draft step unless ``values`` say otherwise)."""
    values = {
        "name": "New step",
        "trigger": "delivered" if "delivered" in engine.triggers else next(iter(engine.triggers)),
        "sender": "dry_run" if "dry_run" in engine.senders else next(iter(engine.senders)),
        **(values or {}),
    }
    problems = validate_step(engine, values)
    if problems:
        raise CampaignError("the step is invalid", [f"{k}: {v}" for k, v in problems.items()])
    last = campaign.steps.select(Step.position).order_by(Step.position.desc()).scalar() or 0
    step = Step.create(
        campaign=campaign,
        position=last + 1,
        template=_template(values),
        **{k: values[k] for k in STEP_FIELDS if k in values},
    )
    AuditLog.create(user=user, action="step_added", target=campaign.name, detail=f"step {step.id}")
    if campaign.status in SENDING_STATUSES:
        replan_campaign(engine, campaign)
    return step


def delete_step(engine, step: Step, *, user: str = "") -> None:
    """Remove a step; its not-yet-sent messages are cancelled first, with the reason."""
    campaign = step.campaign
    with database.atomic():
        Message.update(
            state=CANCELLED, reason="cancelled: step removed from the campaign", updated_at=utcnow()
        ).where((Message.step == step) & Message.state.in_(tuple(WAITING_STATES))).execute()
        step.delete_instance()
        for position, other in enumerate(campaign.steps.order_by(Step.position), 1):
            if other.position != position:
                other.position = position
                other.save()
        AuditLog.create(
            user=user, action="step_deleted", target=campaign.name, detail=f"step {step.id}"
        )


def move_step(step: Step, offset: int, *, user: str = "") -> None:
    """Swap the step with its neighbour ``offset`` (-1 up, +1 down) places away."""
    steps = list(step.campaign.steps.order_by(Step.position))
    index = next(i for i, s in enumerate(steps) if s.id == step.id)
    other = index + offset
    if not 0 <= other < len(steps):
        return
    steps[index], steps[other] = steps[other], steps[index]
    with database.atomic():
        for position, s in enumerate(steps, 1):
            if s.position != position:
                s.position = position
                s.save()
        AuditLog.create(user=user, action="step_moved", target=step.campaign.name)
