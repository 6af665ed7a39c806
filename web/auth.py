"""Sign-in, sign-out and the first-login password change."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for

from core.clock import utcnow
from core.models import User
from core.passwords import hash_password, password_problem, verify_password

from .views_format import audit, engine

bp = Blueprint("auth", __name__)

LOCK_MINUTES = 15


def _safe_next(target: str | None, default: str | None = None) -> str:
    """``target`` if it is a local path, else ``default`` (the dashboard)."""
    # Only local paths: an open redirect would let a phishing link bounce through us.
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return default if default is not None else url_for("dashboard.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """The sign-in form; throttled per user after repeated failures."""
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    user = User.get_or_none(User.username == username)
    now = utcnow()
    if user is not None and user.locked_until and user.locked_until > now:
        minutes = int((user.locked_until - now).total_seconds() // 60) + 1
        flash(f"Too many failed attempts. Try again in {minutes} minutes.", "error")
        return render_template("login.html", next=request.form.get("next", "")), 429
    if user is None or not verify_password(user.password_hash, password):
        if user is not None:
            user.failed_logins += 1
            if user.failed_logins >= engine().settings.get("security", "login_attempts"):
                user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                user.failed_logins = 0
            user.save()
        flash("Wrong username or password.", "error")
        return render_template("login.html", next=request.form.get("next", "")), 401
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    user.save()
    session.clear()
    session["uid"] = user.id
    session["pw"] = user.password_hash[-16:]
    session.permanent = True
    g.user = user
    audit("login", user.username)
    if user.must_change_password:
        return redirect(url_for("auth.password"))
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():
    """Sign out (POST, so a link elsewhere cannot sign a user out)."""
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
    errors = {}
    if not verify_password(user.password_hash, current):
        errors["current_password"] = "This is not your current password."
    problem = password_problem(new, user.username)
    if problem:
        errors["new_password"] = problem
    elif new == current:
        errors["new_password"] = "Choose a password different from the current one."
    if new != confirm:
        errors["confirm_password"] = "The two new passwords differ."
    if errors:
        return render_template("password.html", errors=errors), 422
    user.password_hash = hash_password(new)
    user.must_change_password = False
    user.save()
    session["pw"] = user.password_hash[-16:]
    audit("password_changed", user.username)
    flash("Password changed.", "success")
    return redirect(url_for("dashboard.index"))
