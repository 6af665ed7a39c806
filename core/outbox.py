"""What a person may do to one message from the Messages and Orders pages: retry a
failure, settle an in-doubt send, cancel a scheduled message.

Each action is one conditional UPDATE on the state it starts from, so a person racing a
worker (or another person) changes nothing when the message moved on meanwhile.
"""

from __future__ import annotations

from .clock import utcnow
from .contracts import CANCELLED, FAILED, IN_DOUBT, RETRY, SCHEDULED, SENT
from .db import database
from .models import AuditLog, Message


def retry_message(message, *, by: str = "") -> bool:
    """Put a failed message back in the queue, due now; dispatch re-checks every rule.

    Returns False when the message is no longer failed (someone else acted first).
    Only ``failed`` qualifies: a failure is a proven non-send, so a retry cannot make
    the buyer receive it twice (in-doubt messages go through ``resolve_in_doubt``).
    """
    now = utcnow()
    with database.atomic():
        changed = (
            Message.update(
                state=SCHEDULED,
                due_at=now,
                attempts=0,
                error="",
                reason=f"retry requested by {by or 'a person'}",
                updated_at=now,
            )
            .where((Message.id == message.id) & (Message.state == FAILED))
            .execute()
        )
        if changed:
            AuditLog.create(
                user=by, action="message_retried", target=f"message {message.id}", detail=""
            )
    return bool(changed)


def resolve_in_doubt(message, sent: bool, *, by: str = "") -> bool:
    """A person settles an in-doubt message: ``sent=True`` records it as sent (nothing
    goes out); ``sent=False`` queues it again, which may reach the buyer twice when the
    first call did go out, so the web page asks for an explicit confirmation first.

    Returns False when the message is no longer in doubt.
    """
    now = utcnow()
    who = by or "a person"
    if sent:
        values = dict(state=SENT, sent_at=now, reason=f"marked as sent by {who}")
    else:
        values = dict(
            state=SCHEDULED,
            due_at=now,
            attempts=0,
            reason=f"send again confirmed by {who} (may reach the buyer twice)",
        )
    with database.atomic():
        changed = (
            Message.update(updated_at=now, lease_until=None, lease_owner="", **values)
            .where((Message.id == message.id) & (Message.state == IN_DOUBT))
            .execute()
        )
        if changed:
            AuditLog.create(
                user=by,
                action="in_doubt_marked_sent" if sent else "in_doubt_sent_again",
                target=f"message {message.id}",
                detail=values["reason"],
            )
    return bool(changed)


def cancel_message(message, reason: str = "", *, by: str = "") -> bool:
    """Withdraw a scheduled (or retrying) message; returns False when it already left
    that state (claimed, sent or cancelled in the meantime)."""
    now = utcnow()
    why = reason or f"cancelled by {by or 'a person'}"
    with database.atomic():
        changed = (
            Message.update(state=CANCELLED, reason=why, updated_at=now)
            .where((Message.id == message.id) & Message.state.in_([SCHEDULED, RETRY]))
            .execute()
        )
        if changed:
            AuditLog.create(
                user=by, action="message_cancelled", target=f"message {message.id}", detail=why
            )
    return bool(changed)
