"""A seller account's state as the dashboard shows it: problems, recovery, queued syncs.

Channels mark an account when its credentials stop working; fixing it (new credentials,
a successful sync or Test connection) re-queues the messages that waited for it.
"""

from __future__ import annotations

import logging

from .clock import utcnow
from .contracts import RETRY, SCHEDULED
from .models import Message, SellerAccount

log = logging.getLogger(__name__)

# How a channel says that a message waits for its seller account rather than for Amazon
# or the buyer (credentials revoked or wrong, access denied): a postponed message's
# reason starts with "waiting: " + this, a retry's error with this. Fixing the account
# re-queues exactly those messages (``requeue_account_messages``).
ACCOUNT_PROBLEM = "the seller account needs attention"


def mark_account(account, status: str, message: str) -> None:
    """Show an account problem (or recovery) on the dashboard and in ``doctor``."""
    SellerAccount.update(status=status, status_message=message).where(
        SellerAccount.id == account.id
    ).execute()


def requeue_account_messages(account, reason: str) -> int:
    """Make the account's messages that wait on an account problem due now.

    Called when the seller saved new credentials, or the account worked again (a
    successful sync or Test connection): without it they would sit out the day-long
    re-check they were postponed by. Only ``scheduled`` and ``retry`` messages move, in
    one conditional UPDATE, so a message being sent or already sent is never touched;
    ``reason`` (e.g. "re-queued: credentials were updated") replaces the waiting reason.
    Returns how many messages were re-queued.
    """
    now = utcnow()
    waiting = Message.reason.startswith(f"waiting: {ACCOUNT_PROBLEM}")
    retrying = (Message.state == RETRY) & Message.error.startswith(ACCOUNT_PROBLEM)
    count = (
        Message.update(due_at=now, next_attempt_at=now, reason=reason, updated_at=now)
        .where(
            (Message.account == account.id)
            & Message.state.in_([SCHEDULED, RETRY])
            & (waiting | retrying)
        )
        .execute()
    )
    if count:
        log.info("account %s: %d message(s) %s", account.id, count, reason)
    return count


def queue_sync(account, *, full: bool = False) -> None:
    """Mark an account's sync as queued; a full sync re-reads from the first-sync horizon.

    A full sync forgets the cursor, so the next sync (this one, or a later one if this
    fails) starts again from the order source's first-sync window; storing is idempotent.
    """
    queued = {"done": 0, "total": None, "text": "queued", "queued_at": utcnow().isoformat()}
    values = {"sync_progress": queued}
    if full:
        values["sync_cursor"] = None
    SellerAccount.update(**values).where(SellerAccount.id == account.id).execute()
