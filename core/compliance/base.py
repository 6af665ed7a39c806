"""Shared pieces of the linter: its value types and helpers every rule module uses."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger("core.compliance")

GUIDE = "Amazon Communication Guidelines"
FIELDS = ("text", "subject", "html")


@dataclass(frozen=True)
class LintInput:
    text: str
    channel: str = "messaging"
    message_type: str = ""
    html: str = ""
    subject: str = ""
    language: str = "en"
    order_id: str = ""
    allowed_links: tuple[str, ...] = ()
    is_template_source: bool = False
    sequence_has_review_request: bool = False
    max_length: int | None = None
    # The seller's own product and brand names, never spelling errors (per account).
    allowed_words: tuple[str, ...] = ()


def allowed_words(text: str) -> tuple[str, ...]:
    """The words of an account's allowed-words setting (separated by lines, commas or
    spaces: "Lumo Home" allows both words)."""
    return tuple(dict.fromkeys(w for w in re.split(r"[\s,;]+", text or "") if w))


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: str
    start: int
    end: int
    excerpt: str
    explanation: str
    source: str
    field: str = "text"


@dataclass(frozen=True)
class ContentCheck:
    rule_id: str
    severity: str
    check: Callable[[LintInput], Iterable[Finding]]
    description: str
    source: str


def _words(*alternatives: str) -> re.Pattern[str]:
    """One case-insensitive pattern; ``\\b`` only around latin alternatives."""
    parts = []
    for alt in alternatives:
        latin = not any(ord(c) >= 0x3000 for c in alt)
        parts.append(rf"\b(?:{alt})\b" if latin else f"(?:{alt})")
    return re.compile("|".join(parts), re.IGNORECASE)


def _finding(rule, severity, match_or_span, text, explanation, source, field="text"):
    start, end = match_or_span.span() if hasattr(match_or_span, "span") else match_or_span
    return Finding(rule, severity, start, end, text[start:end][:200], explanation, source, field)


def _fields(inp: LintInput, names=("text", "subject")):
    for name in names:
        value = getattr(inp, name) or ""
        if value:
            yield name, value


def wording_check(rule_id, severity, pattern, explanation, source, fields=FIELDS, when=None):
    """A ``ContentCheck`` flagging every match of ``pattern`` (optionally only ``when``)."""

    def check(inp: LintInput):
        if when is not None and not when(inp):
            return
        for name, value in _fields(inp, fields):
            for m in pattern.finditer(value):
                yield _finding(rule_id, severity, m, value, explanation, source, name)

    return ContentCheck(rule_id, severity, check, explanation, source)
