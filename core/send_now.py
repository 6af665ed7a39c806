"""Send now: one campaign step for one order, sent at once from the Orders page.

Only the step's delay and send window are skipped; everything else is the ordinary send
path, so a person pressing the button gets the same guarantees as the dispatcher.
"""

from __future__ import annotations

from .clock import utcnow
from .contracts import (
    CANCELLED,
    RETRY,
    SCHEDULED,
    SENDING_STATUSES,
    SENT,
    SKIPPED,
)
from .db import database
from .decide import SEND, SEND_NOW, decide
from .dispatch import CLAIM_LOST, claim_one, process, worker_id
from .models import AuditLog, Message
from .planning import insert_message, message_values, record_decision, release_dry_runs


def send_step_now(engine, order, step, *, by: str = "") -> tuple[bool, str]:
    """Send one campaign step for one order now, skipping its delay and send window.

    Everything else still applies: the step's rules and every send veto (Amazon's review
    window, the daily limit, opt-outs, one review request per order), judged by
    ``core.decide`` as at any send, and the never-twice guarantee, because the message is
    claimed and sent through ``core.dispatch``. Returns ``(sent_or_queued, explanation)``;
    when nothing happened the explanation says why.
    """
    campaign = step.campaign
    if campaign.status not in SENDING_STATUSES:
        return False, f"campaign {campaign.name!r} is {campaign.status}: activate it first"
    if campaign.account_id and campaign.account_id != order.account_id:
        return False, "this campaign belongs to another seller account"
    existing = Message.get_or_none((Message.order == order.id) & (Message.step == step.id))
    if existing is not None and existing.state not in (SCHEDULED, RETRY):
        if not (existing.dry_run and release_dry_runs(engine, step, existing.id)):
            return False, (
                f"this step already has a message in state {existing.state} "
                f"({existing.reason or existing.error or 'no reason recorded'}); "
                "a step is sent at most once per order"
            )
        existing = None  # a test send does not use up the live step
    verdict = decide(engine, order, step, mode=SEND_NOW, message=existing)
    if verdict.outcome != SEND:
        return False, verdict.reason
    with database.atomic():
        if existing is None:
            insert_message(order, step, message_values(engine, order, step, utcnow()))
        row = Message.get((Message.order == order.id) & (Message.step == step.id))
        AuditLog.create(
            user=by,
            action="step_sent_now",
            target=order.order_id,
            detail=f"step {step.id} ({step.name or step.trigger}), message {row.id}",
        )
    # The same fenced claim as the dispatcher's: only one worker or person wins it.
    claim = claim_one(engine, worker_id(), row.id)
    if claim is None:
        return False, "a worker claimed this message at the same moment; see its state below"
    state = process(engine, claim)
    if state == CLAIM_LOST:
        return False, "a worker took this message over; see its state below"
    message = Message.get_by_id(row.id)
    detail = message.reason or message.error
    outcome = f"{state}{': ' + detail if detail else ''}"
    # The step's decision said "planned for <later>" or "waiting": the trace must show
    # what Send now did instead, not the plan it replaced.
    kind = "excluded" if state in (SKIPPED, CANCELLED) else "planned"
    record_decision(order, step, kind, f"sent now by {by or 'a person'}: {outcome}", "send now")
    return state == SENT, outcome
