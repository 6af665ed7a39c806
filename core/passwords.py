"""Password hashing with argon2 (argon2-cffi's recommended parameters)."""

from __future__ import annotations

import secrets
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    """A one-time password for the first admin; must be changed at first login."""
    return secrets.token_urlsafe(12)


def password_problem(password: str, username: str = "") -> str | None:
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if username and password.lower() == username.lower():
        return "The password must differ from the username."
    return None


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_nobody(password: str) -> bool:
    """Spend the time a real check takes, for a username that does not exist (or cannot
    sign in), so the answer's timing does not tell which usernames exist. Always False."""
    verify_password(_dummy_hash(), password)
    return False
