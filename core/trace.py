"""The order trace in a seller's words: a one-line summary and plain decision reasons.

The decisions store precise, technical reasons (``planned for 2026-11-12 09:00 UTC:
delivered 2026-11-07 14:00 + 5d 0h``, decided by ``core``); planning and its SQL twin
write the same text, so it stays as stored and is reworded here, for display only.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from .contracts import CANCELLED, FAILED, IN_DOUBT, RETRY, SCHEDULED, SENDING, SENT, SKIPPED

# Who decided, as the trace's "(…)" shows it.
DECIDERS = {
    "core": "Followup's scheduler",
    "veto": "a safety check",
    "trigger": "the step's trigger",
    "send now": "Send now",
}
_DELAY = re.compile(r" \+ (\d+)d (\d+)h")
_STAMP = re.compile(r"(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2})")
UNWANTED = {"cancelled": "cancelled", "returned": "returned", "refunded": "refunded"}


def _day(when: datetime, tz: ZoneInfo) -> str:
    local = when.replace(tzinfo=ZoneInfo("UTC")).astimezone(tz)
    return f"{local.day} {local:%b}"


def _delay(match: re.Match) -> str:
    days, hours = int(match.group(1)), int(match.group(2))
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} hour{'s' if hours != 1 else ''}")
    return f", then {' and '.join(parts) or 'no delay'}"


def plain_reason(reason: str, *, delivery_estimated: bool = False) -> str:
    """A stored decision reason in plain words.

    ``+ 5d 0h`` becomes ", then 5 days"; "delivered 2026-11-07 14:00" says "estimated
    delivery" when Amazon gave no delivery date and the window was estimated; a UTC
    timestamp loses its seconds-level noise. Unknown wording passes through unchanged.
    """
    text = _DELAY.sub(_delay, reason)
    if delivery_estimated:
        text = re.sub(r"\bdelivered (\d{4}-\d{2}-\d{2})", r"estimated delivery \1", text)
    text = re.sub(r"^planned for (\S+ \S+) UTC: ", r"planned for \1 (UTC), counting from ", text)
    return text


def plain_by(by: str, rule_labels: dict | None = None) -> str:
    """Who decided, for the trace: "core" is Followup's scheduler, "veto" a safety check,
    a rule's name its label (``rule_labels``: name -> label)."""
    if rule_labels and by in rule_labels:
        return f"the rule “{rule_labels[by]}”"
    return DECIDERS.get(by, by)


def _without_prefix(text: str) -> str:
    for prefix in ("skipped: ", "excluded: ", "waiting: "):
        if text.startswith(prefix):
            return text[len(prefix) :]
    return text


def summary(order, messages, decisions, tz: ZoneInfo) -> str:
    """One line on top of the trace: what happened to this order's review request (or,
    when no step asks for one, to its messages), the way a seller would say it."""
    unwanted = order.unwanted_event()
    reviews = [m for m in messages if m.review_request]
    sent = [m for m in reviews if m.state == SENT]
    if sent:
        m = sent[0]
        note = " as a dry run: nothing reached the buyer" if m.dry_run else ""
        return f"Review request sent on {_day(m.sent_at or m.updated_at, tz)}{note}."
    if unwanted:
        kind, when = unwanted
        return f"No review request: the order was {UNWANTED.get(kind, kind)} on {_day(when, tz)}."
    if order.messages_stopped:
        return "No messages: you stopped messages for this order."
    for state, text in (
        (IN_DOUBT, "Review request may have gone out (in doubt): check Seller Central"),
        (SENDING, "Review request is being sent right now"),
        (FAILED, "Review request failed"),
        (RETRY, "Review request will be tried again"),
    ):
        for m in reviews:
            if m.state == state:
                why = m.error or m.reason
                return f"{text}{': ' + _without_prefix(why) if why else ''}."
    for m in reviews:
        if m.state == SCHEDULED:
            return f"Review request planned for {_day(m.due_at, tz)}."
    for m in reviews:
        if m.state in (SKIPPED, CANCELLED):
            return f"No review request: {_without_prefix(m.reason or 'no reason was recorded')}."
    others = [m for m in messages if m.state == SENT]
    if others:
        last = max(others, key=lambda m: m.sent_at or m.updated_at)
        count = len(others)
        return (
            f"{count} message{'s' if count != 1 else ''} sent, the last on "
            f"{_day(last.sent_at or last.updated_at, tz)}; no review request yet."
        )
    for d in decisions:
        if d.outcome == "excluded":
            return f"No messages: {_without_prefix(d.reason)}."
    for d in decisions:
        if d.outcome == "waiting":
            return f"Nothing sent yet: {_without_prefix(d.reason)}."
    if messages:
        first = min(messages, key=lambda m: m.due_at)
        return f"Nothing sent yet; the first message is due {_day(first.due_at, tz)}."
    return "Nothing planned: no active campaign step applies to this order yet."
