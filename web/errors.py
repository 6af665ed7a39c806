"""Error pages in the app's own layout, with the navigation and a way back.

Werkzeug's bare pages left a seller on a white page without a menu. Every HTTP error
(and an unexpected exception, as 500) renders ``error.html`` with a plain title, what
to do next and the description the view gave (``abort(403, description=...)``).
"""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

# Status -> (title, what to do). The view's own description, when it gave one, is shown
# under the title: it says what exactly went wrong.
PLAIN = {
    400: (
        "That request could not be used",
        "Something in it was missing or malformed. Go back, reload the page and try again.",
    ),
    403: (
        "You may not do that",
        "Your role does not allow this page or action. Ask an admin to change your role "
        "on the Settings page if you need it.",
    ),
    404: (
        "Page not found",
        "The address is wrong, or what it showed was deleted. Start again from the dashboard.",
    ),
    405: (
        "That page cannot be used this way",
        "The form or link you followed does not fit this address. Go back and use the "
        "page's own buttons.",
    ),
    413: (
        "That upload is too large",
        "Choose a smaller file (at most 20 MB per request).",
    ),
    429: (
        "Too many attempts",
        "Wait a few minutes, then try again.",
    ),
    500: (
        "Something went wrong on our side",
        "Nothing you did caused this. The error is in the server's log; try again in a "
        "moment, and if it keeps happening, tell whoever runs this installation.",
    ),
}


def _generic(exc: HTTPException) -> bool:
    """Werkzeug's stock description repeats the title in technical words: not shown."""
    return exc.description == type(exc).description


def render_error(exc: HTTPException):
    """The app-styled page for ``exc`` (any HTTP status)."""
    code = exc.code or 500
    title, advice = PLAIN.get(code, (exc.name, "Go back and try again."))
    detail = "" if _generic(exc) or code == 500 else exc.description
    response = render_template(
        "error.html", code=code, title=title, advice=advice, detail=detail, path=request.path
    )
    kept = {k: v for k, v in exc.get_headers() if k in ("Allow", "Retry-After")}
    return response, code, kept


def init_app(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code is None or exc.code < 400:
            return exc  # redirects raised as exceptions pass through
        return render_error(exc)

    @app.errorhandler(InternalServerError)
    def _internal(exc: InternalServerError):
        log.error("500 on %s %s: %r", request.method, request.path, exc.original_exception)
        return render_error(exc)
