"""The dashboard's cached figures, kept in the app for ``DASHBOARD_CACHE_SECONDS``.

In a module of its own because other areas (orders, messages, blocklist) clear it after
an action that changes what it counts, and a view module should not import another.
"""

from __future__ import annotations

import time

from flask import current_app
from peewee import fn

from core.clock import utcnow
from core.models import Attempt, AuditLog, Message, Order, OrderEvent


def clear_cache() -> None:
    """Forget cached figures (after demo data or an outbox action changed them)."""
    current_app.extensions.pop("dashboard_cache", None)


def fingerprint_now() -> tuple:
    """The newest row of each table a figure depends on: a new message, a send attempt
    (the worker's, in another process), a person's action (audited), a new order or
    order event all change it. Each is a MAX over a primary key: an index lookup."""
    return tuple(
        model.select(fn.MAX(model.id)).scalar()
        for model in (Message, Attempt, AuditLog, Order, OrderEvent)
    )


def cached(key, compute, fingerprint=None):
    """``compute()`` cached for ``DASHBOARD_CACHE_SECONDS``, and only while nothing
    changed: a cached tile is never older than the data it counts."""
    store = current_app.extensions.setdefault("dashboard_cache", {})
    ttl = current_app.config.get("DASHBOARD_CACHE_SECONDS", 300)
    hit = store.get(key)
    if hit is not None and time.monotonic() - hit[0] < ttl and hit[2] == fingerprint:
        return hit[1]
    value = (compute(), utcnow())
    store[key] = (time.monotonic(), value, fingerprint)
    return value
