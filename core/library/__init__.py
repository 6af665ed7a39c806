"""The template library shipped with Followup: one TOML file per template.

Each file holds ``key``, ``name``, ``channel`` ("email" or "messaging"), ``message_type``,
``description`` and ``[variants.<lang>]`` tables with ``subject`` and ``body`` for en, de,
fr, it, es and ja. Templates use only the placeholders in ``PLACEHOLDER_EXAMPLES`` (no
buyer PII: Amazon relays the messages). Links in them (``review_link``, ``manual_link``,
``invoice_link``) must be https and marked as needed by the plugin that provides them.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..contracts import LIBRARY_LANGUAGES

LANGUAGES = LIBRARY_LANGUAGES  # the shipped texts' languages

CHANNELS = ("email", "messaging")

PLACEHOLDER_EXAMPLES: dict[str, Any] = {
    "order_id": "305-1234567-7654321",
    "marketplace": "DE",
    "product_title": "Lumio X2",
    "products": [
        {"title": "Lumio X2", "sku": "LX2-BLK", "asin": "B0C1234567", "quantity": 1},
    ],
    "seller_name": "Nordlicht GmbH",
    "delivery_date": "2026-11-20",
    "review_link": "https://www.amazon.de/review/create-review?asin=B0C1234567",
    "invoice_link": "https://invoices.example.com/305-1234567-7654321.pdf",
    "manual_link": "https://manuals.example.com/lumio-x2.pdf",
    "contact_instruction": "Reply to this message through your Amazon account.",
}
"""An example value for every placeholder templates may use (editor palette, tests)."""

LINK_PLACEHOLDERS = ("review_link", "invoice_link", "manual_link")


@dataclass(frozen=True)
class Variant:
    subject: str
    body: str


@dataclass(frozen=True)
class LibraryTemplate:
    key: str
    name: str
    channel: str
    message_type: str
    description: str
    variants: dict[str, Variant]


class LibraryError(Exception):
    """A library file is malformed (a packaging bug, reported with the file name)."""


def _load(path: Path) -> LibraryTemplate:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        variants = {
            lang: Variant(str(v.get("subject", "")), str(v["body"]))
            for lang, v in data["variants"].items()
        }
        template = LibraryTemplate(
            key=str(data["key"]),
            name=str(data["name"]),
            channel=str(data["channel"]),
            message_type=str(data["message_type"]),
            description=str(data.get("description", "")).strip(),
            variants=variants,
        )
    except (KeyError, TypeError, AttributeError, tomllib.TOMLDecodeError) as exc:
        raise LibraryError(f"{path.name}: {type(exc).__name__}: {exc}") from exc
    if template.channel not in CHANNELS:
        raise LibraryError(f"{path.name}: channel must be one of {CHANNELS}")
    return template


@lru_cache(maxsize=1)
def _load_all() -> tuple[LibraryTemplate, ...]:
    return tuple(_load(p) for p in sorted(Path(__file__).parent.glob("*.toml")))


def load_library() -> list[LibraryTemplate]:
    """Every shipped template, sorted by file name."""
    return list(_load_all())


def get_template(key: str) -> LibraryTemplate | None:
    """The library template with ``key``, or None."""
    return next((t for t in _load_all() if t.key == key), None)
