"""The decision: may this campaign step message this order, when, and if not, why.

Every path that decides about a message asks ``decide`` and nothing else: planning
(a message is planned, or a decision says why not), the dispatcher's re-check at send
time, the campaign dry run and "send now" on the order page. The set-based full re-plan
(``core.planning_bulk``) is this function's SQL twin; the equivalence tests hold the two
to the same outcomes and reasons.

The order of the checks is the product's promise, written once, here:

0. the campaign's **activation cut-off**: an order placed before it is excluded
   (``core.activation``: "new orders only" unless the seller chose a backlog);
1. the step's **rules** (the seller's filters: SKU, marketplace, order total, ...);
2. the **send vetoes** nobody can override (Amazon's windows and limits, the seller's
   stop lists; ``core.default_vetoes`` and plugins): a ``waiting:`` answer postpones,
   any other answer excludes;
3. the **due time**: the trigger's anchor + the step's delay, moved into its send window.

A rule or a plugin that raises does not take planning down with it: the pair gets an
``error`` verdict that names the rule and what to fix, every other pair goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from peewee import DatabaseError, InterfaceError

from .clock import as_of, utcnow
from .contracts import SCHEDULED, SENDING, is_review_request
from .due import due_time
from .models import Message, Order, SellerAccount, Step
from .runtime_settings import in_test_mode

log = logging.getLogger(__name__)

SEND = "send"  # send at ``due_at`` (now, for the dispatcher and "send now")
WAIT = "wait"  # not yet: the reason says what for
EXCLUDED = "excluded"  # never, for this order and step: the reason says why
ERROR = "error"  # the step itself is broken (a bad rule value): the seller must fix it

# Planning asks with the message as it will wait (scheduled); the dispatcher and
# "send now" ask as it leaves (sending), which is when the daily limit applies.
PLAN = "plan"
SEND_TIME = "send"
SEND_NOW = "now"
SIMULATE = "simulate"


@dataclass(frozen=True)
class Verdict:
    """``decide``'s answer. ``by`` names who decided (a rule, "veto", a plugin, "core")
    and ``reason`` is the sentence the order trace shows."""

    outcome: str
    reason: str = ""
    by: str = ""
    due_at: datetime | None = None


def is_dry_run(engine, sender: str) -> bool:
    """Whether ``sender`` only records (an unknown sender is not: it fails visibly later)."""
    found = engine.senders.get(sender)
    return bool(found and found.dry_run)


def effective_sender(engine, step: Step, order: Order | None = None) -> str:
    """Test campaigns, test mode (as in force now: it can be switched on the Settings
    page, ``core.runtime_settings``) and demo data send through the dry-run sender only.

    Demo data never reaches a channel: a campaign of the demo account (a preset created
    on it included) and any campaign's message to a demo order are dry runs, so the
    demo account never needs credentials (README, "Demo data").
    """
    if step.campaign.status == "test" or in_test_mode(engine):
        return "dry_run"
    if order is not None and order.is_demo:
        return "dry_run"
    if serves_demo_account(step.campaign):
        return "dry_run"
    return step.sender


def serves_demo_account(campaign) -> bool:
    """Whether ``campaign`` is bound to the demo seller account."""
    if not campaign.account_id:
        return False
    cached = campaign.__dict__.get("_demo_account")
    if cached is None:
        cached = (
            SellerAccount.select()
            .where((SellerAccount.id == campaign.account_id) & SellerAccount.is_demo)
            .exists()
        )
        campaign.__dict__["_demo_account"] = cached
    return cached


def probe(engine, order: Order, step: Step, *, state: str = SCHEDULED, dry_run=None) -> Message:
    """An unsaved message for (order, step) as planning would create it, for the checks."""
    sender = effective_sender(engine, step, order)
    return Message(
        order=order,
        step=step,
        account=order.account_id,
        sender=sender,
        state=state,
        review_request=is_review_request(engine, step),
        dry_run=is_dry_run(engine, sender) if dry_run is None else dry_run,
    )


class StepBroken(Exception):
    """A rule or hook raised while deciding; ``by`` names it."""

    def __init__(self, by: str, exc: Exception):
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.by = by


def _guarded(by: str, call, *args):
    """Run a rule or hook; its exception becomes ``StepBroken`` naming it (the
    database's own errors stay what they are: they are not the step's fault)."""
    try:
        return call(*args)
    except (DatabaseError, InterfaceError):
        raise
    except Exception as exc:  # noqa: BLE001 - one broken rule must not stop planning
        raise StepBroken(by, exc) from exc


def check_rules(engine, order: Order, step: Step) -> tuple[str, str] | None:
    """(reason, rule name) of the first rule the order fails, or None.

    Raises ``StepBroken`` when a rule cannot run (e.g. a stored parameter it cannot read).
    """
    for row in step.rules or []:
        rule = engine.rules.get(row.get("rule"))
        if rule is None:
            return f"rule: unknown rule {row.get('rule')!r} (plugin disabled?)", "core"
        reason = _guarded(
            f"rule {rule.label or rule.name}", rule.check, engine, order, row.get("params") or {}
        )
        if reason:
            return reason, rule.name
    return None


def cutoff_reason(cutoff: datetime) -> str:
    """The trace's sentence for an order placed before the campaign's cut-off (the SQL
    twin in ``core.planning_bulk`` writes the same words)."""
    return (
        f"excluded: ordered before the campaign's start ({cutoff:%Y-%m-%d %H:%M} UTC), "
        "chosen when it was activated"
    )


def _before_cutoff(order: Order, step: Step) -> Verdict | None:
    cutoff = step.campaign.orders_from
    if cutoff is not None and order.purchased_at < cutoff:
        return Verdict(EXCLUDED, cutoff_reason(cutoff), "activation")
    return None


def _rules(engine, order: Order, step: Step) -> Verdict | None:
    failed = check_rules(engine, order, step)
    return Verdict(EXCLUDED, failed[0], failed[1]) if failed else None


def _vetoes(engine, order: Order, message: Message, hard_only: bool) -> Verdict | None:
    """The first veto: a hard one excludes; a "waiting:" one (unless ``hard_only``) waits."""
    reasons = _guarded("a send veto", engine.vetoes, message, order)
    hard = [r for r in reasons if not r.startswith("waiting:")]
    if hard:
        return Verdict(EXCLUDED, hard[0], "veto")
    if reasons and not hard_only:
        return Verdict(WAIT, reasons[0], "veto")
    return None


def _due(engine, order: Order, step: Step) -> Verdict:
    due, why, by = _guarded("the due time", due_time, engine, order, step, order.event_times())
    return Verdict(WAIT, why, by) if due is None else Verdict(SEND, why, by, due)


def _broken(order: Order, step: Step, exc: StepBroken) -> Verdict:
    log.warning("step %s cannot decide order %s: %s: %s", step.id, order.order_id, exc.by, exc)
    return Verdict(
        ERROR,
        f"error: {exc.by} cannot run ({exc}); fix the campaign step's settings",
        exc.by,
    )


def _trigger_fired(engine, order: Order, step: Step) -> Verdict | None:
    """None once the step's trigger event happened for ``order``, else why not."""
    trigger = engine.triggers.get(step.trigger)
    if trigger is None:
        reason = f"waiting: trigger {step.trigger!r} is not available (plugin disabled?)"
        return Verdict(WAIT, reason, "core")
    if _guarded("the trigger", trigger.anchor, engine, order, order.event_times()) is None:
        return Verdict(WAIT, trigger.waiting_reason, "trigger")
    return None


def decide(
    engine, order: Order, step: Step, *, mode: str = PLAN, message: Message | None = None
) -> Verdict:
    """Send / wait / excluded / error for ``order`` and ``step`` now.

    ``mode``:

    * ``PLAN``: rules, then hard vetoes ("waiting:" ones do not stop planning), then the
      due time; ``SEND`` carries it.
    * ``SEND_TIME``: the dispatcher's re-check of the claimed ``message`` on fresh
      data: rules, then every veto, "waiting:" ones included.
    * ``SEND_NOW``: a person's "send now": rules, the trigger must have fired (delay and
      send window are skipped), then every veto, as the message would leave.
    * ``SIMULATE``: the dry run over past orders: rules, the due time, then the hard
      vetoes judged *at that due time* (was it allowed when it was due?).
    """
    try:
        found = _before_cutoff(order, step) or _rules(engine, order, step)
        if found is not None:
            return found
        if mode == SEND_NOW:
            found = _trigger_fired(engine, order, step)
            if found is not None:
                return found
        message = message or probe(engine, order, step)
        if mode in (SEND_TIME, SEND_NOW):
            was, message.state = message.state, SENDING  # the daily limit counts now
            try:
                found = _vetoes(engine, order, message, hard_only=False)
            finally:
                message.state = was
            return found or Verdict(SEND, "", "core", utcnow())
        if mode == SIMULATE:
            timed = _due(engine, order, step)
            if timed.due_at is None:
                return timed
            with as_of(timed.due_at):
                return _vetoes(engine, order, message, hard_only=True) or timed
        return _vetoes(engine, order, message, hard_only=True) or _due(engine, order, step)
    except StepBroken as exc:
        return _broken(order, step, exc)
