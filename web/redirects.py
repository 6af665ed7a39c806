"""Where a form may send the browser next: only back to a path on this site.

A ``next`` field comes from the browser, so it is checked before any redirect to it;
an open redirect would let a phishing link bounce through the admin. Used by the
sign-in page and by the actions that return to the page they were started from.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from flask import url_for


def safe_next(target: str | None, default: str | None = None) -> str:
    """``target`` if it is a path on this site, else ``default`` (the dashboard)."""
    # Only local paths: an open redirect would let a phishing link bounce through us.
    return target if is_local_path(target) else default or url_for("dashboard.index")


def is_local_path(target: str | None) -> bool:
    """Whether a browser would stay on this site following ``Location: target``.

    Checked on the decoded text too: browsers drop tabs and newlines and read ``\\`` as
    ``/``, so ``/%09/evil.example/`` or ``/\\evil.example`` would leave the site."""
    if not target or not isinstance(target, str):
        return False
    for text in (target, unquote(target)):
        if any(ord(c) < 0x20 or c == "\x7f" for c in text) or "\\" in text:
            return False
        if not text.startswith("/") or text.startswith("//"):
            return False
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return False
    return True
