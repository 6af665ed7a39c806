"""core.users' sign-in decision and password-change checks, without Flask: a disabled or
unknown user gets the same answer as a wrong password, failures are throttled, and the
password form's errors are keyed by field."""

from __future__ import annotations

from core.models import User
from core.passwords import hash_password
from core.users import add_user, disable_user, password_change_errors, sign_in

PASSWORD = "correct horse battery staple 42"


def make_user(name="ada", role="editor") -> User:
    return add_user(name, PASSWORD, role, must_change=False)


def test_the_right_password_signs_in_and_records_when(engine):
    make_user()
    answer = sign_in("  ada\x00 ", PASSWORD, "10.0.0.1", 5)
    assert answer.user is not None and answer.user.username == "ada" and answer.wait == 0
    assert User.get(User.username == "ada").last_login_at is not None


def test_wrong_unknown_and_disabled_get_the_same_answer(engine):
    make_user()
    make_user("admin2", "admin")  # the last active admin cannot be disabled
    grace = make_user("grace")
    disable_user(grace)
    for name, password in (("ada", "wrong"), ("nobody", PASSWORD), ("grace", PASSWORD)):
        answer = sign_in(name, password, f"10.0.0.{len(name)}", 5)
        assert answer.user is None and answer.wait == 0, name
    assert User.get(User.username == "grace").last_login_at is None


def test_repeated_failures_ask_to_wait_without_checking(engine):
    make_user()
    waits = [sign_in("ada", "wrong", "10.0.0.9", 2).wait for _ in range(4)]
    assert waits[-1] > 0
    # While it waits, even the right password is not checked.
    assert sign_in("ada", PASSWORD, "10.0.0.9", 2).user is None


def test_password_change_errors_are_keyed_by_field(engine):
    user = make_user()
    assert password_change_errors(user, "wrong", "short", "other") == {
        "current_password": "This is not your current password.",
        "new_password": password_change_errors(user, PASSWORD, "short", "short")["new_password"],
        "confirm_password": "The two new passwords differ.",
    }
    same = password_change_errors(user, PASSWORD, PASSWORD, PASSWORD)
    assert same == {"new_password": "Choose a password different from the current one."}
    new = "a different long passphrase 7"
    assert password_change_errors(user, PASSWORD, new, new) == {}
    user.password_hash = hash_password(new)
    assert "current_password" in password_change_errors(user, PASSWORD, new + "x", new + "x")
