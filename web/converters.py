"""URL converters for every blueprint.

``<int:…>`` takes ASCII digits up to the largest 64-bit id only: a longer number would
overflow the database driver (a 500), and Unicode digits (``²``, ``٣``) are not ids.
Anything else is a plain 404."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1


class BoundedIntConverter(IntegerConverter):
    """``int`` for database ids: ASCII digits, at most ``MAX_ID``."""

    regex = r"[0-9]{1,19}"

    def __init__(self, map, *args, **kwargs):  # noqa: A002 - werkzeug's parameter name
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_app(app: Flask) -> None:
    """Install the converters; call before any blueprint is registered."""
    app.url_map.converters["int"] = BoundedIntConverter


def is_id(value) -> bool:
    """Whether a form or query value is a usable id or count (ASCII digits, ≤ ``MAX_ID``).

    ``str.isdigit`` is not enough: it accepts ``²``, which ``int`` refuses (a 500)."""
    return (
        isinstance(value, str)
        and value.isascii()
        and value.isdigit()
        and len(value) <= 19
        and int(value) <= MAX_ID
    )
