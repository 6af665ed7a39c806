"""What a seller must act on, gathered in one read model ("Needs your attention").

Each problem is a plain sentence plus the action that fixes it. Links are named
targets (``("message", {"message_id": 3})``), not URLs: the web layer turns them into
addresses, so this module stays usable from the CLI and the worker.

Every query is bounded (a LIMIT, a recent time range or the few active steps), so the
dashboard can read it on every view.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from peewee import JOIN

from .clock import utcnow
from .contracts import (
    FAILED,
    IN_DOUBT,
    NEVER_OFFERED,
    RETRY,
    SCHEDULED,
    SENDING_STATUSES,
    SKIPPED,
)
from .models import Attempt, Campaign, Message, Order, SellerAccount, Step
from .plain_errors import plain_error

SHOWN = 10  # problems listed per kind; the linked page has the rest
CAP = 1000  # "1000+" rather than counting every failed message ever
# Render errors and "not offered" skips are looked for among this many newest failed or
# skipped messages (and attempts among the newest this many), never in the whole table.
SAMPLE = 1000
# Amazon's trouble that passes by itself is retried quietly; past this long the seller
# should know (and may check Amazon's status page or their network).
UNREACHABLE_AFTER = timedelta(hours=1)
RECENT = timedelta(days=30)  # "Amazon stopped offering" is news for this long
# How the Amazon senders word trouble reaching Amazon (plugins/amazon/senders.py):
# connection failures, timeouts and Amazon's 5xx answers.
UNREACHABLE_MARKS = (
    "could not reach Amazon",
    "could not connect to Amazon",
    "Amazon answered 5",
    "Amazon did not answer in time",
    "ConnectError",
    "ReadTimeout",
)
TEMPLATE_ERROR = "template error"


@dataclass(frozen=True)
class Problem:
    """One thing to act on: ``sentence`` says what is wrong, ``action`` what to do, and
    ``link`` where (a named target). ``message_id`` lets the page offer a button."""

    sentence: str
    action: str
    link: tuple[str, dict]
    message_id: int | None = None


@dataclass
class Group:
    """Problems of one kind; ``count`` may exceed what is listed (``more`` lists all)."""

    kind: str
    heading: str
    count: int
    problems: list[Problem] = field(default_factory=list)
    more: tuple[str, dict] | None = None

    @property
    def capped(self) -> bool:
        return self.count > CAP


def _count(query) -> int:
    return query.limit(CAP + 1).count()


def _messages(state: str) -> Group | None:
    rows = list(
        Message.select(Message, Order)
        .join(Order, JOIN.INNER, on=(Message.order == Order.id))
        .where(Message.state == state)
        .order_by(Message.id.desc())
        .limit(SHOWN)
    )
    if not rows:
        return None
    count = _count(Message.select(Message.id).where(Message.state == state))
    problems = []
    for m in rows:
        why = plain_error(m.error or m.reason) or "no reason was recorded"
        if state == IN_DOUBT:
            sentence = (
                f"Message #{m.id} for order {m.order.order_id} may or may not have reached "
                f"the buyer ({why}). Look it up in Seller Central, then say whether it went out."
            )
            action = "Resolve"
        else:
            sentence = f"Message #{m.id} for order {m.order.order_id} failed: {why}."
            action = "Retry"
        problems.append(Problem(sentence, action, ("message", {"message_id": m.id}), m.id))
    heading = "Messages in doubt" if state == IN_DOUBT else "Failed messages"
    return Group(state, heading, count, problems, ("messages", {"state": state}))


def _accounts() -> Group | None:
    rows = list(
        SellerAccount.select()
        .where((SellerAccount.status == "error") & ~SellerAccount.is_demo)
        .order_by(SellerAccount.name)
        .limit(SHOWN)
    )
    if not rows:
        return None
    problems = [
        Problem(
            f"Seller account {a.name}: {plain_error(a.status_message) or 'the last sync failed'}.",
            "Check the account",
            ("account", {"account_id": a.id}),
        )
        for a in rows
    ]
    return Group("account", "Seller accounts", len(problems), problems, ("accounts", {}))


def _templates(now: datetime) -> Group | None:
    """Active steps whose template cannot produce a message: no template where one is
    needed, none saved, or failed messages that recorded a render error."""
    problems: list[Problem] = []
    seen: set[int] = set()
    steps = (
        Step.select(Step, Campaign)
        .join(Campaign)
        .where(Campaign.status.in_(SENDING_STATUSES))
        .order_by(Campaign.name, Step.position)
    )
    for step in steps:
        label = f"{step.campaign.name} / {step.name or step.trigger}"
        if step.template_id is None:
            continue  # Request a Review needs none; a text step without one is caught below
        if not step.template.versions.exists():
            seen.add(step.template_id)
            problems.append(
                Problem(
                    f"Template {step.template.name!r} (used by {label}) has never been saved, "
                    "so its step cannot send.",
                    "Open the template",
                    ("template", {"template_id": step.template_id}),
                )
            )
    # The newest failed messages only (the state+id index), so the cost stays the same
    # however many failed messages years of sending left behind.
    broken: dict[int | None, list] = {}
    for step_id, error, updated in (
        Message.select(Message.step, Message.error, Message.updated_at)
        .where(Message.state == FAILED)
        .order_by(Message.id.desc())
        .limit(SAMPLE)
        .tuples()
    ):
        if (error or "").startswith(TEMPLATE_ERROR) and updated >= now - RECENT:
            broken.setdefault(step_id, []).append(error)
    for step_id, errors in list(broken.items())[:SHOWN]:
        count, error = len(errors), errors[0]
        step = Step.get_or_none(Step.id == step_id) if step_id else None
        template = step.template if step is not None and step.template_id else None
        if template is not None and template.id in seen:
            continue
        name = repr(template.name) if template is not None else "of a deleted step"
        target = (
            ("template", {"template_id": template.id})
            if template is not None
            else ("messages", {"state": FAILED})
        )
        problems.append(
            Problem(
                f"Template {name} cannot be rendered: {count} message(s) failed ({error}).",
                "Fix the template, then retry the messages",
                target,
            )
        )
    if not problems:
        return None
    return Group("template", "Templates that cannot render", len(problems), problems)


def unreachable_since(now: datetime | None = None) -> datetime | None:
    """Since when every attempt to reach Amazon failed, or None when the last one worked
    (or none failed). Read from the attempts of the last day only."""
    now = now or utcnow()
    # The newest attempts by id (attempts are inserted as they start): a bounded read.
    recent = (
        Attempt.select(Attempt.started_at, Attempt.outcome, Attempt.detail, Message.sender)
        .join(Message)
        .where(Attempt.finished_at.is_null(False))
        .order_by(Attempt.id.desc())
        .limit(SAMPLE)
        .tuples()
    )
    since = None
    for started, outcome, detail, sender in recent:
        if started < now - timedelta(days=1):
            break
        if not sender.startswith("amazon"):
            continue
        if not any(mark in (detail or "") for mark in UNREACHABLE_MARKS):
            if outcome in ("sent", SKIPPED):
                break  # Amazon answered this one: the trouble (if any) began later
            continue
        since = started
    return since


def _sync_unreachable_since() -> datetime | None:
    """Since when an Amazon account's syncs fail to reach Amazon: its last good sync,
    when its latest one failed that way."""
    oldest = None
    for account in SellerAccount.select().where(
        (SellerAccount.status == "error") & ~SellerAccount.is_demo
    ):
        text = account.status_message or ""
        if account.last_sync_at and any(mark in text for mark in UNREACHABLE_MARKS):
            oldest = account.last_sync_at if oldest is None else min(oldest, account.last_sync_at)
    return oldest


def _waiting_on_amazon(now: datetime) -> Group | None:
    found = [t for t in (unreachable_since(now), _sync_unreachable_since()) if t is not None]
    since = min(found) if found else None
    if since is None or now - since < UNREACHABLE_AFTER:
        return None
    hours = (now - since).total_seconds() / 3600
    waiting = _count(Message.select(Message.id).where(Message.state.in_([SCHEDULED, RETRY])))
    sentence = (
        f"Amazon has not been reachable for {hours:.0f} hour(s) (since {since:%Y-%m-%d %H:%M} "
        f"UTC). Messages wait and are tried again by themselves; {waiting} are waiting. "
        "If it lasts, check your server's network and Amazon's status page."
    )
    problem = Problem(sentence, "See the waiting messages", ("messages", {"state": RETRY}))
    return Group("unreachable", "Amazon unreachable", 1, [problem])


def _not_offered(now: datetime) -> Group | None:
    # Among the newest skipped messages (the state+id index: a bounded read).
    ids = [
        pk
        for pk, reason, updated in Message.select(Message.id, Message.reason, Message.updated_at)
        .where(Message.state == SKIPPED)
        .order_by(Message.id.desc())
        .limit(SAMPLE)
        .tuples()
        if (reason or "").startswith(NEVER_OFFERED) and updated >= now - RECENT
    ]
    if not ids:
        return None
    rows = list(
        Message.select(Message, Order)
        .join(Order, JOIN.INNER, on=(Message.order == Order.id))
        .where(Message.id.in_(ids[:SHOWN]))
        .order_by(Message.id.desc())
    )
    problems = [
        Problem(
            f"Amazon stopped offering Request a Review for order {m.order.order_id}, so no "
            "review request went out. Nothing can send one now; the order page shows its story.",
            "Open the order",
            ("order", {"order_pk": m.order.id}),
        )
        for m in rows
    ]
    return Group(
        "not_offered",
        "Review requests Amazon stopped offering (last 30 days)",
        len(ids),
        problems,
        ("messages", {"state": SKIPPED}),
    )


def attention(now: datetime | None = None) -> list[Group]:
    """Every kind of problem that needs the seller, most urgent first; empty when none."""
    now = now or utcnow()
    groups = [
        _messages(IN_DOUBT),
        _messages(FAILED),
        _accounts(),
        _waiting_on_amazon(now),
        _templates(now),
        _not_offered(now),
    ]
    return [g for g in groups if g is not None]


def total(groups: list[Group]) -> int:
    """How many problems, for a badge ("3 need your attention")."""
    return sum(g.count for g in groups)
