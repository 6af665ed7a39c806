"""Login sessions, roles, CSRF and security headers.

* CSRF: one random token per session, required on every unsafe request, as the form
  field ``csrf_token`` or the ``X-CSRF-Token`` header (htmx sends it from ``hx-headers``
  on <body>). It lives as long as the session, so an open tab never goes stale.
* Content-Security-Policy allows no inline script; htmx's inline indicator style is
  turned off in base.html's htmx-config meta tag.
"""

from __future__ import annotations

import hmac
import secrets
from functools import wraps

from flask import Flask, abort, g, redirect, request, session, url_for

from core.models import User
from core.sessions import session_user

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
ROLE_RANK = {"viewer": 0, "editor": 1, "admin": 2}
# health.*: monitoring without a login (web/health.py: no data; /metrics has a token)
OPEN_ENDPOINTS = {"auth.login", "static", "health.healthz", "health.metrics_view"}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def _check_csrf() -> None:
    sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(sent, expected):
        abort(400, description="Missing or invalid CSRF token: reload the page and try again.")


def current_user() -> User | None:
    return g.get("user")


def init_app(app: Flask) -> None:
    @app.before_request
    def _load_user():
        g.user = None
        if "sid" in session:
            # Server-side validity (core.sessions): a signed-out, demoted or disabled
            # user's cookie finds no session row.
            g.user = session_user(session.get("sid"))
            if g.user is None:
                session.clear()
        if request.method in UNSAFE:
            _check_csrf()
        if request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
            return None
        if g.user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if g.user.must_change_password and request.endpoint not in ("auth.password", "auth.logout"):
            return redirect(url_for("auth.password"))
        return None

    @app.after_request
    def _headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        return response

    @app.context_processor
    def _inject():
        return {"csrf_token": csrf_token, "current_user": current_user(), "can": can}

    # The Secure flag and HSTS are decided per request in web/transport.py.


def can(role: str) -> bool:
    """Whether the signed-in user has at least ``role``: pages show an action's button
    only to those it will not answer with 403 (templates call ``can("editor")``)."""
    user = current_user()
    return user is not None and ROLE_RANK.get(user.role, -1) >= ROLE_RANK[role]


def requires(role: str):
    """Allow the view only to users with at least ``role`` (viewer < editor < admin)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None or ROLE_RANK.get(user.role, -1) < ROLE_RANK[role]:
                abort(403, description=f"This action needs the {role} role.")
            return view(*args, **kwargs)

        return wrapped

    return decorator
