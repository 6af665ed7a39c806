"""The audit log as the web writes it: who (the signed-in user) did what to what."""

from __future__ import annotations

from core.models import AuditLog

from .security import current_user


def audit(action: str, target: str = "", detail: str = "") -> None:
    """Record ``action`` on ``target`` by the signed-in user ("" outside a sign-in)."""
    user = current_user()
    AuditLog.create(user=user.username if user else "", action=action, target=target, detail=detail)
