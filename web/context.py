"""The objects ``create_app`` hands every request: the engine and the task runtime.

Views call these instead of reading ``current_app.extensions`` themselves, so the keys
the app factory stores them under are written in one place.
"""

from __future__ import annotations

from flask import current_app


def engine():
    """The process's ``core.engine.Engine``."""
    return current_app.extensions["followup"]


def runtime():
    """The process's ``core.tasks.EngineQueue`` (the engine plus the huey queue)."""
    return current_app.extensions["followup_runtime"]
