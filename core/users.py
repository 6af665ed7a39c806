"""Admin users: the first login, extra users, roles."""

from __future__ import annotations

from .models import User
from .passwords import generate_password, hash_password, password_problem

ROLES = ("admin", "editor", "viewer")


class UserError(ValueError):
    pass


def ensure_first_admin(username: str = "admin") -> str | None:
    """Create the first admin if there is no user; returns its one-time password."""
    if User.select().exists():
        return None
    password = generate_password()
    User.create(username=username, password_hash=hash_password(password), role="admin")
    return password


def add_user(username: str, password: str, role: str = "editor", must_change: bool = True) -> User:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not username or len(username) > 80:
        raise UserError("username must be 1-80 characters")
    if User.get_or_none(User.username == username):
        raise UserError(f"user {username!r} already exists")
    problem = password_problem(password, username)
    if problem:
        raise UserError(problem)
    return User.create(
        username=username,
        password_hash=hash_password(password),
        role=role,
        must_change_password=must_change,
    )
