"""Operations plugins (and the web admin) may perform on the core's data.

Plugins import from ``core`` (types, ``hookimpl``), read ``core.models``, and change
state only through these functions, so every change leaves a reason in the trace.
"""

from __future__ import annotations

import logging

from peewee import IntegrityError

from .clock import utcnow
from .contracts import RETRY, SCHEDULED
from .db import database
from .models import AuditLog, Message, OptOut, Order

log = logging.getLogger(__name__)


def find_order(order_id: str) -> Order | None:
    """The order with Amazon's id ``order_id`` (any account), or None."""
    return Order.select().where(Order.order_id == order_id).first()


def stop_order_messages(order: Order, reason: str, *, by: str = "") -> int:
    """Cancel every not-yet-sent message of ``order``; future planning skips it too.

    Returns the number of messages cancelled. ``reason`` is shown in the order trace.
    """
    with database.atomic():
        Order.update(messages_stopped=True).where(Order.id == order.id).execute()
        count = (
            Message.update(state="cancelled", reason=reason, updated_at=utcnow())
            .where((Message.order == order) & Message.state.in_([SCHEDULED, RETRY]))
            .execute()
        )
        AuditLog.create(user=by, action="order_stopped", target=order.order_id, detail=reason)
    order.messages_stopped = True
    return count


def add_opt_out(buyer_key: str, kind: str = "opt_out", reason: str = "", *, by: str = "") -> bool:
    """Put a buyer on the opt-out list (Amazon) or the seller's blocklist.

    Returns False when the buyer was already on that list.
    """
    if kind not in ("opt_out", "blocklist"):
        raise ValueError(f"kind must be opt_out or blocklist, not {kind!r}")
    if not buyer_key:
        raise ValueError("buyer_key is empty: the order has no buyer identity")
    try:
        with database.atomic():
            OptOut.create(buyer_key=buyer_key, kind=kind, reason=reason)
            AuditLog.create(user=by, action=f"buyer_{kind}", target=buyer_key, detail=reason)
    except IntegrityError:
        return False
    return True


def account_credentials(engine, account) -> dict:
    """The account's decrypted credentials (for order-source and sender plugins only).

    Raises ``core.crypto.CredentialError`` naming what to do when the key changed.
    """
    from .crypto import decrypt_json

    return decrypt_json(engine.settings, account.credentials)


def save_account_credentials(engine, account, credentials: dict) -> None:
    """Encrypt and store credentials; plain text never reaches the database."""
    from .crypto import encrypt_json

    account.credentials = encrypt_json(engine.settings, credentials)
    account.save()


def mark_account(account, status: str, message: str) -> None:
    """Show an account problem (or recovery) on the dashboard and in ``doctor``."""
    from .models import SellerAccount

    SellerAccount.update(status=status, status_message=message).where(
        SellerAccount.id == account.id
    ).execute()
