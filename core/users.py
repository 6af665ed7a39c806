"""Admin users: the first login, extra users, roles."""

from __future__ import annotations

from dataclasses import dataclass

from . import login_throttle
from .clock import utcnow
from .models import User
from .passwords import (
    generate_password,
    hash_password,
    password_problem,
    verify_nobody,
    verify_password,
)
from .sessions import end_user_sessions

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


# -- managing users from the web admin --------------------------------------------
# A disabled user keeps its row (the audit log names it) but its password hash is
# wrapped in "!": argon2 cannot parse it, so sign-in fails. Every change to who a user
# is or what they may do (role, disabled, new password, deleted) ends their sessions
# (``core.sessions``), so an old cookie cannot keep the old rights.

DISABLED = "!"


def is_disabled(user: User) -> bool:
    """Whether the user may not sign in."""
    return user.password_hash.startswith(DISABLED)


def _active_admins() -> int:
    return (
        User.select()
        .where((User.role == "admin") & ~User.password_hash.startswith(DISABLED))
        .count()
    )


def _guard_last_admin(user: User, action: str) -> None:
    if user.role == "admin" and not is_disabled(user) and _active_admins() <= 1:
        raise UserError(f"cannot {action} {user.username}: it is the last active admin")


def set_role(user: User, role: str) -> None:
    """Change a user's role; the last active admin cannot be demoted."""
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role != "admin":
        _guard_last_admin(user, "demote")
    if role != user.role:
        user.role = role
        user.save()
        end_user_sessions(user)


def disable_user(user: User) -> None:
    """Block sign-in and end the user's sessions; the last active admin cannot be disabled."""
    if is_disabled(user):
        return
    _guard_last_admin(user, "disable")
    user.password_hash = f"{DISABLED}{user.password_hash}{DISABLED}"
    user.save()
    end_user_sessions(user)


def enable_user(user: User) -> str:
    """Allow sign-in again with a new one-time password (returned, shown once)."""
    password = generate_password()
    user.password_hash = hash_password(password)
    user.must_change_password = True
    user.failed_logins = 0
    user.locked_until = None
    user.save()
    end_user_sessions(user)
    return password


def delete_user(user: User) -> None:
    """Delete a user; the last active admin cannot be deleted."""
    _guard_last_admin(user, "delete")
    end_user_sessions(user)
    user.delete_instance()


def change_password(user: User, new_password: str) -> None:
    """Set a new password and end every session of ``user`` (the caller starts a new one
    for the browser that made the change)."""
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.save()
    end_user_sessions(user)


# -- signing in and changing one's password -----------------------------------------


@dataclass(frozen=True)
class SignIn:
    """The answer to a sign-in: the user, or None; ``wait`` > 0 when too many failed
    tries came first (nothing was checked then)."""

    user: User | None
    wait: int = 0


def clean_username(text: str) -> str:
    """A typed username as stored: trimmed, without NUL (PostgreSQL refuses NUL in text,
    so no stored username contains one)."""
    return text.replace("\x00", "").strip()


def sign_in(username: str, password: str, address: str, attempts: int) -> SignIn:
    """Check a sign-in; failed tries slow further ones down (``core.login_throttle``).

    The answer, and the time it takes, are the same whether the username is unknown,
    disabled or has another password: a password is hashed either way, so neither the
    reply nor its timing tells an attacker which usernames exist. ``attempts`` is
    ``[security] login_attempts``.
    """
    username = clean_username(username)
    wait = login_throttle.wait_seconds(username, address, attempts)
    if wait:
        return SignIn(None, wait)
    user = User.get_or_none(User.username == username)
    if user is None or is_disabled(user):
        ok = verify_nobody(password)
    else:
        ok = verify_password(user.password_hash, password)
    if not ok:
        login_throttle.record_failure(username, address)
        return SignIn(None)
    login_throttle.record_success(username, address)
    user.last_login_at = utcnow()
    user.save()
    return SignIn(user)


def password_change_errors(user: User, current: str, new: str, confirm: str) -> dict[str, str]:
    """What stops ``user`` changing their password, keyed by form field ({} if nothing):
    the current password must be right, the new one strong and different, typed twice."""
    # (field, what to fix) pairs: the texts name passwords, they are not passwords.
    problems = []
    if not verify_password(user.password_hash, current):
        problems.append(("current_password", "This is not your current password."))
    problem = password_problem(new, user.username)
    if problem:
        problems.append(("new_password", problem))
    elif new == current:
        problems.append(("new_password", "Choose a password different from the current one."))
    if new != confirm:
        problems.append(("confirm_password", "The two new passwords differ."))
    return dict(problems)
