"""Server-side length limits on every free-text form field, with the field named.

A 5,000-character campaign name or a 50,000-character description used to be stored
and broke every page that showed it. Every unsafe request's form fields are checked
here, before any view runs, against the column they end up in (``core.models``) or a
limit that keeps a page readable; a field over its limit stops the request with 422,
names the field and hands the text back so nothing typed is lost.
"""

from __future__ import annotations

from flask import Flask, render_template, request

# Field name -> (what the page calls it, most characters). Names are the forms' own
# (web/templates); the numbers follow the model columns where there is one.
LIMITS = {
    "name": ("Name", 120),
    "description": ("Description", 2000),
    "reason": ("Reason", 500),
    "note": ("Version note", 500),
    "subject": ("Subject", 250),
    "username": ("Username", 80),
    "test_address": ("Test address", 255),
    "sku": ("SKU", 80),
    "language": ("Language", 8),
    "message_type": ("Message type", 48),
    "account": ("Account name", 120),
    "order_id": ("Order id", 40),
    "key": ("Key", 60),
    "q": ("Search", 200),
    "params": ("Rule settings", 2000),
    "password": ("Password", 1000),
    # Template texts and email layouts: long, but not unbounded.
    "body": ("Text", 100_000),
    "html": ("HTML", 200_000),
    "layout": ("Layout", 200_000),
}
DEFAULT = ("This field", 10_000)  # plugin settings and anything not listed
SKIPPED = {"csrf_token", "next"}


def too_long() -> tuple[str, str, int, str] | None:
    """(field, label, limit, value) of the first form field over its limit, or None."""
    for field, values in request.form.lists():
        if field in SKIPPED:
            continue
        label, limit = LIMITS.get(field, DEFAULT)
        for value in values:
            if len(value) > limit:
                return field, label, limit, value
    return None


def _same_site(url: str) -> str:
    """The referring page when it is one of ours, else "" (no link off-site)."""
    return url if url.startswith(request.host_url) else ""


def init_app(app: Flask) -> None:
    """Check every POST after sign-in and CSRF (``web.security`` runs first)."""

    @app.before_request
    def _limits():
        if request.method not in ("POST", "PUT", "PATCH") or not request.form:
            return None
        found = too_long()
        if found is None:
            return None
        field, label, limit, value = found
        return (
            render_template(
                "too_long.html",
                field=field,
                label=label,
                limit=limit,
                length=len(value),
                value=value,
                back=_same_site(request.referrer or ""),
            ),
            422,
        )
