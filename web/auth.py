"""Sign-in, sign-out and the first-login password change."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from core.models import User
from core.sessions import end_session, start_session
from core.users import change_password, password_change_errors, sign_in

from .audit import audit
from .context import engine
from .redirects import is_local_path, safe_next

bp = Blueprint("auth", __name__)


def _login_page(status: int, message: str = "", category: str = "error"):
    if message:
        flash(message, category)
    return render_template("login.html", next=request.form.get("next", "")), status


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; failed tries slow further ones down (``core.login_throttle``)."""
    if request.method == "GET":
        next_path = request.args.get("next", "")
        return render_template("login.html", next=next_path if is_local_path(next_path) else "")
    attempts = engine().settings.get("security", "login_attempts")
    answer = sign_in(
        request.form.get("username", ""),
        request.form.get("password", ""),
        request.remote_addr or "",
        attempts,
    )
    if answer.wait:
        # The same answer whether or not the username exists.
        return _login_page(429, f"Too many failed sign-ins: try again in {answer.wait} seconds.")
    user = answer.user
    if user is None:
        return _login_page(401, "Wrong username or password.")
    _sign_in(user)
    audit("login", user.username)
    if user.must_change_password:
        return redirect(url_for("auth.password"))
    return redirect(safe_next(request.form.get("next")))


def _sign_in(user: User) -> None:
    """A fresh session (new token, new CSRF token) for ``user`` in this browser."""
    end_session(session.get("sid"))
    session.clear()
    session["sid"] = start_session(user)
    session.permanent = True
    g.user = user


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST, so a link elsewhere cannot sign a user out); the session ends on
    the server, so a copy of the cookie stops working too."""
    end_session(session.get("sid"))
    session.clear()
    flash("Signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
def password():
    """Change the password; forced at first login."""
    user = g.user
    if request.method == "GET":
        return render_template("password.html")
    current = request.form.get("current_password", "")
    new = request.form.get("new_password", "")
    confirm = request.form.get("confirm_password", "")
    errors = password_change_errors(user, current, new, confirm)
    if errors:
        return render_template("password.html", errors=errors), 422
    # Every other session of this user ends; this browser gets a new one.
    change_password(user, new)
    _sign_in(user)
    audit("password_changed", user.username)
    flash("Password changed.", "success")
    return redirect(url_for("dashboard.index"))
