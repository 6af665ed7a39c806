"""How requests arrive: the reverse proxy, HTTPS-only cookies, HSTS and the access log.

* ``[web] trusted_proxies = N`` believes the last N proxies' ``X-Forwarded-For``,
  ``-Proto`` and ``-Host`` (werkzeug's ProxyFix), so behind Caddy or nginx the request
  scheme is the browser's (https) and the client address is the browser's, not the
  proxy's. With 0 (the default) those headers are ignored: anyone could send them.
* ``[web] secure_cookies = "auto"`` marks the session cookie ``Secure`` and sends HSTS
  on a response exactly when *that* request came over HTTPS; ``always`` marks it on
  every response, ``never`` on none. Decided per request: nothing about one request
  carries over to the next.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

access_log = logging.getLogger("followup.access")

# One year, the value browsers' preload lists ask for; no includeSubDomains: the
# seller's other sites on the same domain are not ours to force onto HTTPS.
HSTS = "max-age=31536000"


def _https_only(app: Flask) -> bool:
    mode = app.config.get("FOLLOWUP_SECURE_COOKIES", "auto")
    return mode == "always" or (mode == "auto" and request.is_secure)


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with ``Secure`` decided for each response."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return _https_only(app)


def init_app(app: Flask, trusted_proxies: int = 0) -> None:
    """Install ProxyFix (when proxies are trusted), the session interface, HSTS and the
    access log on ``app``."""
    if trusted_proxies:
        n = trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)
    app.session_interface = SessionInterface()

    @app.before_request
    def _start_clock():
        g.request_started = time.monotonic()

    @app.after_request
    def _transport_headers(response):
        mode = app.config.get("FOLLOWUP_SECURE_COOKIES", "auto")
        if request.is_secure and mode != "never":
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        started = g.get("request_started")
        took = (time.monotonic() - started) * 1000 if started is not None else 0.0
        # The path only: a query string can hold a search for an order or a buyer.
        access_log.log(
            logging.DEBUG if request.endpoint == "static" else logging.INFO,
            "%s %s %s %s %.0fms",
            request.remote_addr,
            request.method,
            request.path,
            response.status_code,
            took,
        )
        return response
