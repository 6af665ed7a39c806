"""The campaigns blueprint, alone in its module so view modules can import it without
importing each other (``web.campaigns`` imports the views to register their routes)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("campaigns", __name__, url_prefix="/campaigns")
