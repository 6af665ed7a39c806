"""A campaign moved to another seller account stops for the account it left.

Re-planning a moved campaign only looks at the new account's orders, so the messages it
had already scheduled for the old account's orders would otherwise still go out. They are
cancelled here, with a plain reason on the message and a decision for the order's trace,
as a step removed from a campaign or a rule it no longer passes cancels them
(``core.campaigns``, ``core.planning_bulk``).

Only messages that have not started to leave are touched: scheduled and retrying ones.
A message being sent (``sending``), sent, or whose send may have gone out (``in_doubt``)
keeps its state: what reached the buyer stays on record.
"""

from __future__ import annotations

import logging

from peewee import Value

from .clock import utcnow
from .contracts import CANCELLED, RETRY, SCHEDULED
from .db import database
from .models import Campaign, Message, SellerAccount
from .planning_bulk import store_decisions

log = logging.getLogger(__name__)

# Not yet claimed by dispatch: a person's cancel withdraws these too (core.services).
UNSENT_STATES = (SCHEDULED, RETRY)
DECIDED_BY = "campaign moved"


def moved_reason(account: SellerAccount) -> str:
    """The reason a seller reads on each message left behind."""
    return f"cancelled: campaign moved to account {account.name}"


def cancel_left_behind(campaign: Campaign, account: SellerAccount | None) -> int:
    """Cancel the campaign's unsent messages for orders of any account but ``account``.

    ``account=None`` (every seller account) leaves nothing behind. Runs in one
    transaction: the state change is conditional on the message still waiting, so a
    message dispatch claimed meanwhile is not touched, and each cancelled message's
    (order, step) decision says why. Returns how many messages were cancelled.
    """
    if account is None:
        return 0
    now = utcnow()
    reason = moved_reason(account)
    with database.atomic():
        cancelled = (
            Message.update(state=CANCELLED, reason=reason, updated_at=now)
            .where(
                (Message.campaign == campaign)
                & (Message.account != account.id)
                & Message.state.in_(UNSENT_STATES)
            )
            .execute()
        )
        if cancelled:
            # Exactly the rows just updated: same campaign, state, reason and time.
            rows = Message.select(
                Message.order,
                Message.step,
                Value("excluded"),
                Value(reason),
                Value(DECIDED_BY),
                Value(now),
            ).where(
                (Message.campaign == campaign)
                & (Message.state == CANCELLED)
                & (Message.reason == reason)
                & (Message.updated_at == now)
            )
            store_decisions(rows)
    if cancelled:
        log.info(
            "campaign %s moved to account %s: %s unsent messages cancelled",
            campaign.id,
            account.id,
            cancelled,
        )
    return cancelled
