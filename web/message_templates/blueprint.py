"""The templates blueprint, alone in its module so view modules can import it without
importing each other (``web.message_templates`` imports the views to register them)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("templates", __name__, url_prefix="/templates")
