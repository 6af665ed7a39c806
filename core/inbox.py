"""Buyer messages that arrived by email: replies to be answered, Amazon's opt-out bounces.

The SP-API cannot read buyer messages (docs/amazon-rules.md §2.3): a seller's inbox is the only
place a buyer reply can be seen, so an inbox-reading plugin records what it finds here
and the admin shows what still needs an answer. Amazon expects sellers to answer buyer
messages within 24 hours, so every unanswered reply carries a ``due_by``.

Recording is idempotent on the mail's Message-ID: an inbox read twice (a lost UID cursor,
a changed UIDVALIDITY) records each mail once, and callers act only on new records.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from peewee import CharField, DateTimeField, ForeignKeyField, IntegrityError, TextField

from .clock import to_naive_utc, utcnow
from .db import database
from .models import BaseModel, Order, SellerAccount

# Amazon's Buyer-Seller Messaging response-time expectation.
RESPONSE_DUE = timedelta(hours=24)
KINDS = ("reply", "opt_out_bounce", "other")
EXCERPT_CHARS = 1000
MESSAGE_ID_CHARS = 255


class BuyerMessage(BaseModel):
    """One mail received from a buyer (through Amazon's relay) or from Amazon itself."""

    order = ForeignKeyField(Order, null=True, backref="buyer_messages", on_delete="SET NULL")
    account = ForeignKeyField(
        SellerAccount, null=True, backref="buyer_messages", on_delete="SET NULL"
    )
    buyer_key = CharField(max_length=128, default="", index=True)
    from_address = CharField(max_length=255, default="")
    subject = TextField(default="")
    received_at = DateTimeField(index=True)  # naive UTC
    message_id = CharField(max_length=MESSAGE_ID_CHARS, unique=True)
    kind = CharField(max_length=16, default="reply")  # see KINDS
    answered_at = DateTimeField(null=True)
    body_excerpt = TextField(default="")
    recorded_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("kind", "answered_at", "received_at"), False),)

    @property
    def due_by(self) -> datetime:
        """When the answer is due: Amazon expects a response within 24 hours."""
        return self.received_at + RESPONSE_DUE

    @property
    def overdue(self) -> bool:
        return self.answered_at is None and utcnow() > self.due_by


def _key(message_id: str) -> str:
    """A Message-ID that fits the column; very long ones are replaced by their hash."""
    message_id = message_id.strip()
    if len(message_id) <= MESSAGE_ID_CHARS:
        return message_id
    return "sha256:" + hashlib.sha256(message_id.encode()).hexdigest()


def record_buyer_message(
    *,
    message_id: str,
    from_address: str,
    subject: str = "",
    received_at: datetime | None = None,
    kind: str = "reply",
    order: Order | None = None,
    account: SellerAccount | None = None,
    buyer_key: str = "",
    body_excerpt: str = "",
) -> tuple[BuyerMessage, bool]:
    """Record a received mail once per Message-ID.

    :returns: ``(row, created)``; ``created`` is False when the mail was recorded before
        (the stored row is returned unchanged), so callers act only on new mail.
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if not message_id or not message_id.strip():
        raise ValueError("message_id is empty: pass the mail's Message-ID or a stable stand-in")
    key = _key(message_id)
    if order is not None:
        account = account or order.account
        buyer_key = buyer_key or order.buyer_key
    existing = BuyerMessage.get_or_none(BuyerMessage.message_id == key)
    if existing is not None:
        return existing, False
    try:
        with database.atomic():
            row = BuyerMessage.create(
                order=order,
                account=account,
                buyer_key=buyer_key or "",
                from_address=(from_address or "")[:255],
                subject=subject or "",
                received_at=to_naive_utc(received_at) or utcnow(),
                message_id=key,
                kind=kind,
                body_excerpt=(body_excerpt or "")[:EXCERPT_CHARS],
            )
    except IntegrityError:  # another reader recorded it between the check and the insert
        return BuyerMessage.get(BuyerMessage.message_id == key), False
    return row, True


def unanswered(limit: int = 20) -> list[BuyerMessage]:
    """Buyer replies not answered yet, oldest first; each has ``due_by`` (received + 24h)."""
    return list(
        BuyerMessage.select()
        .where((BuyerMessage.kind == "reply") & BuyerMessage.answered_at.is_null())
        .order_by(BuyerMessage.received_at, BuyerMessage.id)
        .limit(limit)
    )


def mark_answered(message_id: int, when: datetime | None = None) -> bool:
    """Mark a recorded buyer message (by row id) as answered; False when already answered
    or unknown."""
    return bool(
        BuyerMessage.update(answered_at=to_naive_utc(when) or utcnow())
        .where((BuyerMessage.id == message_id) & BuyerMessage.answered_at.is_null())
        .execute()
    )
