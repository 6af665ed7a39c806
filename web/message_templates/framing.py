"""The response for HTML shown in the editor's sandboxed preview frame.

The frame shows a theme's own inline styles and https images, and nothing else: no
script, no forms, no navigation (sandbox), framed only by this site. A seller's theme is
their own HTML, so it is never trusted with more.
"""

from __future__ import annotations

from flask import make_response

PREVIEW_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; "
    "frame-ancestors 'self'; sandbox"
)


def framed(html: str):
    """``html`` as a response only the sandboxed preview frame on this site may show."""
    response = make_response(html)
    response.headers["Content-Security-Policy"] = PREVIEW_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    return response
