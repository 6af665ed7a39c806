"""Server-side sign-in sessions.

The browser's cookie carries only a random token; the database keeps its SHA-256 and
whose it is. A session is valid while its row exists and has not expired, so signing
out, changing a password or role, or disabling a user ends it at once, on every
copy of the cookie, and the cookie reveals nothing about the user.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from .clock import utcnow
from .models import LoginSession, User

LIFETIME = timedelta(days=7)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(user: User) -> str:
    """A new session for ``user``; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    LoginSession.create(
        token_hash=_digest(token), user=user, created_at=now, expires_at=now + LIFETIME
    )
    # Expired rows of this user go now, so the table never grows without bound.
    LoginSession.delete().where(
        (LoginSession.user == user) & (LoginSession.expires_at < now)
    ).execute()
    return token


def session_user(token: str | None) -> User | None:
    """The user a valid session token belongs to, else None."""
    if not token or not isinstance(token, str):
        return None
    row = (
        LoginSession.select(LoginSession, User)
        .join(User)
        .where((LoginSession.token_hash == _digest(token)) & (LoginSession.expires_at > utcnow()))
        .first()
    )
    return row.user if row is not None else None


def end_session(token: str | None) -> None:
    """Sign one browser out."""
    if token and isinstance(token, str):
        LoginSession.delete().where(LoginSession.token_hash == _digest(token)).execute()


def end_user_sessions(user: User) -> int:
    """Sign ``user`` out everywhere; returns how many sessions ended."""
    return LoginSession.delete().where(LoginSession.user == user.id).execute()
