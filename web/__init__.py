"""The web admin: a Flask app factory with one blueprint per area.

The web layer reaches plugin behaviour only through ``core.engine.Engine``; it never
imports ``plugins``. Pages are full HTML documents that work without JavaScript; htmx
(vendored in static/) swaps the ``_*.html`` fragments for filtering and live updates.

Layout rules (tests/test_meta.py checks there is no import cycle):

* An area is one module (``orders.py``) or, once it outgrows that, one package
  (``campaigns/``, ``message_templates/``) whose ``blueprint.py`` holds only ``bp``; its
  view modules import ``bp`` and helper modules, never each other, and the package's
  ``__init__`` imports the views to register their routes.
* Code every area uses sits in modules named for what they hold: ``context`` (the
  engine and runtime), ``audit``, ``dates``, ``paging``, ``filters``, ``security``, ...
  A module that defines routes imports no other module that does (tests/test_meta.py):
  what two areas share goes to such a helper module (``redirects``, ``attention_panel``,
  ``dashboard_cache``) or, when it is a rule rather than presentation, to ``core``.
* Jinja templates: ``templates/<area>/`` for each area's pages and ``_*.html``
  fragments (``index.html`` its list, ``detail.html`` one item). The top level keeps
  only what belongs to no area: ``base.html`` (the layout), the error pages any URL can
  show (``error.html``, ``too_long.html``) and the sign-in pages (``login.html``,
  ``password.html``), which are seen before any area.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Flask
from htmx_flask import Htmx

from core.config import Settings, load_settings
from core.engine import Engine
from core.queue import make_huey
from core.tasks import EngineQueue

from . import (
    accounts,
    attention,
    auth,
    blocklist,
    campaigns,
    connect_amazon,
    converters,
    dashboard,
    errors,
    feedback,
    files,
    filters,
    health,
    limits,
    message_templates,
    messages,
    orders,
    plugins_page,
    security,
    settings_page,
    transport,
)

log = logging.getLogger(__name__)

htmx = Htmx()


def create_app(
    settings: Settings | None = None, *, engine: Engine | None = None, huey=None
) -> Flask:
    """Build the app. Tests pass their own settings/engine; production reads config.toml."""
    settings = settings or (engine.settings if engine else load_settings())
    engine = engine or Engine(settings)
    engine.migrate()
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=settings.get("web", "secret_key"),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="followup_session",
        PERMANENT_SESSION_LIFETIME=timedelta(days=7),
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
        FOLLOWUP_SECURE_COOKIES=settings.get("web", "secure_cookies"),
    )
    app.extensions["followup"] = engine
    app.extensions["followup_runtime"] = EngineQueue(engine, huey or make_huey(settings))
    converters.init_app(app)  # before the blueprints: their rules use the converters
    htmx.init_app(app)
    transport.init_app(app, settings.get("web", "trusted_proxies"))
    security.init_app(app)
    filters.init_app(app)
    errors.init_app(app)
    limits.init_app(app)
    for bp in (
        health.bp,
        auth.bp,
        dashboard.bp,
        attention.bp,
        orders.bp,
        blocklist.bp,
        messages.bp,
        campaigns.bp,
        message_templates.bp,
        files.bp,
        connect_amazon.bp,
        accounts.bp,
        plugins_page.bp,
        settings_page.bp,
        feedback.bp,
    ):
        app.register_blueprint(bp)

    @app.before_request
    def _connect():
        engine.db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not engine.db.is_closed():
            engine.db.close()

    return app
