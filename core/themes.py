"""Email themes: reusable HTML layouts that stay inside Amazon's styling rules.

A theme is an HTML layout with a ``{{ body }}`` slot (and optionally ``{{ subject }}``).
The body is the rendered plain text of a template variant, turned into paragraphs; a
theme never goes through Jinja2, so a seller-made layout cannot run code.

Amazon's Communication Guidelines (docs/amazon-rules.md §3, styling) decide what a layout may do: no
centered body text, at most 3 font sizes, no overridden font family, colour or line
height, images at most 80% wide and https only, margins at most 20%, no tracking images,
no external links. Every shipped theme lints clean with ``core.compliance``; a seller
theme that breaks a rule is refused at save with the findings (``ThemeRefused``).

A template version records the theme it was saved with (``TemplateVersion.theme``);
``core.compose`` builds the email's HTML from it when the variant has no HTML of its own.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass

from . import compliance
from .clock import utcnow
from .compliance.base import _finding
from .compliance.markup import PLACEHOLDER
from .db import database
from .models import AuditLog, EmailTheme

log = logging.getLogger(__name__)

MAX_LAYOUT = 50_000
SLOT = re.compile(r"\{\{\s*(\w+)\s*\}\}")
SLOTS = ("body", "subject")
TEMPLATE_SYNTAX = PLACEHOLDER  # any Jinja2 syntax, as the linter finds it
# Anything that runs, loads or submits: scripts, frames, forms, remote style sheets and
# CSS background images can all track the buyer (prohibited: tracking pixels and images).
ACTIVE = re.compile(
    r"<\s*(?:script|iframe|frame|object|embed|form|input|link|base|audio|video)\b"
    r"|<\s*meta\b[^>]*http-equiv|\son\w+\s*=|javascript:|@import|url\s*\(",
    re.IGNORECASE,
)
HTTPS_URL = re.compile(r"https://[^\s<>\"']+")
# What a browser reads, not what is typed: character references in attribute values
# (``jav&#x61;script:``, ``javascript&colon;``), CSS escapes (``\\75rl(``) and the tabs and
# newlines browsers drop from URLs must not hide an active part from ``ACTIVE``.
ATTR_VALUE = re.compile(r"""=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))""")
STYLE_BLOCK = re.compile(r"<\s*style\b[^>]*>(.*?)(?:<\s*/\s*style\s*>|$)", re.IGNORECASE | re.S)
CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})\s?|(.))", re.S)
SCRIPT_SCHEME = re.compile(r"^(?:javascript|vbscript|data:text/html)", re.IGNORECASE)

SAMPLE_ORDER_ID = "305-1234567-7654321"
SAMPLE_LINK = "https://manuals.example.com/lumio-x2.pdf"
SAMPLE_SUBJECT = f"Set-up instructions for your order {SAMPLE_ORDER_ID}"
SAMPLE_TEXT = (
    "Hello,\n\n"
    f"here is how to get the most out of your Lumio X2 (order {SAMPLE_ORDER_ID}).\n\n"
    f"Before first use, please read the short manual:\n{SAMPLE_LINK}\n\n"
    "Best regards,\nNordlicht GmbH"
)
"""A compliant message the layouts are linted with: findings then come from the layout."""


class ThemeRefused(Exception):
    """A seller theme breaks a styling rule; ``findings`` say which and where."""

    def __init__(self, findings: list[compliance.Finding]):
        ids = ", ".join(dict.fromkeys(f.rule_id for f in findings))
        super().__init__(f"the theme breaks Amazon's styling rules: {ids}")
        self.findings = findings


@dataclass(frozen=True)
class Theme:
    key: str
    name: str
    description: str
    layout: str
    shipped: bool = True


_HEAD = '<!DOCTYPE html>\n<html>\n<head><meta charset="utf-8"></head>\n<body>\n'
_TAIL = "</body>\n</html>\n"

# Only borders, padding and small margins: the reader's mail client keeps its own font,
# colour and line height for the text (Amazon: no font family/colour/line-height overrides).
SHIPPED: tuple[Theme, ...] = (
    Theme(
        "plain",
        "Plain",
        "Your text as simple paragraphs in the reader's own font. The safest choice.",
        _HEAD + "{{ body }}\n" + _TAIL,
    ),
    Theme(
        "simple_header",
        "Simple header",
        "The subject as a heading above a thin rule, then your text.",
        _HEAD + "<h2>{{ subject }}</h2>\n<hr>\n{{ body }}\n" + _TAIL,
    ),
    Theme(
        "brand_bar",
        "Brand colour bar",
        "A blue bar across the top and a little side margin (5%) around your text.",
        _HEAD + '<div style="border-top: 6px solid #1f5fbf; padding: 12px 4%; margin: 0 5%;">\n'
        "{{ body }}\n</div>\n" + _TAIL,
    ),
    Theme(
        "boxed",
        "Boxed",
        "Your text in a light grey frame, at most 640 pixels wide.",
        _HEAD + '<div style="border: 1px solid #d9dde4; padding: 16px; max-width: 640px;">\n'
        "{{ body }}\n</div>\n" + _TAIL,
    ),
)


def body_to_html(text: str) -> str:
    """Plain text as escaped HTML paragraphs; https links become clickable.

    Blank lines separate paragraphs and single newlines become ``<br>``, so the HTML never
    has more than 2 consecutive line breaks (Amazon: at most 2 consecutive line breaks).
    """
    paragraphs = [p.strip("\n") for p in re.split(r"\n[ \t]*\n", (text or "").strip())]
    out = []
    for para in paragraphs:
        if not para.strip():
            continue
        lines = [_linkify(html.escape(line.rstrip())) for line in para.split("\n")]
        out.append("<p>" + "<br>\n".join(lines) + "</p>")
    return "\n".join(out)


def _linkify(escaped: str) -> str:
    def link(m: re.Match) -> str:
        url = m.group(0).rstrip(".,;:)!?")
        rest = m.group(0)[len(url) :]
        return f'<a href="{url}">{url}</a>{rest}'

    return HTTPS_URL.sub(link, escaped)


def wrap(layout: str, text: str, subject: str = "") -> str:
    """``layout`` with its slots filled: the body as paragraphs, the subject escaped."""
    values = {"body": body_to_html(text), "subject": html.escape(subject or "")}
    return SLOT.sub(lambda m: values.get(m.group(1), m.group(0)), layout)


def seller_themes() -> list[Theme]:
    """The seller's own themes, by name."""
    return [
        Theme(t.key, t.name, t.description, t.layout, shipped=False)
        for t in EmailTheme.select().order_by(EmailTheme.name)
    ]


def all_themes() -> list[Theme]:
    """Shipped themes first, then the seller's own."""
    return [*SHIPPED, *seller_themes()]


def get_theme(key: str) -> Theme | None:
    """The shipped or seller theme called ``key``, or None."""
    for theme in SHIPPED:
        if theme.key == key:
            return theme
    row = EmailTheme.get_or_none(EmailTheme.key == key) if key else None
    return Theme(row.key, row.name, row.description, row.layout, shipped=False) if row else None


def html_for(theme_key: str, text: str, subject: str = "") -> str:
    """The email HTML for ``text`` in theme ``theme_key``; "" for no theme.

    An unknown theme (a seller theme deleted since the version was saved) gives "" and
    a warning: the message then goes as plain text, which is always allowed.
    """
    if not theme_key:
        return ""
    theme = get_theme(theme_key)
    if theme is None:
        log.warning("email theme %r no longer exists; sending plain text only", theme_key)
        return ""
    return wrap(theme.layout, text, subject)


def _theme_finding(rule_id: str, start: int, end: int, layout: str, explanation: str):
    source = f"{compliance.GUIDE}: styling"
    return _finding(rule_id, "error", (start, end), layout, explanation, source, "html")


def lint_layout(layout: str, checks=None) -> list[compliance.Finding]:
    """Findings for a layout: its own shape, then Amazon's rules on a sample message in it.

    Spans of shape findings point into ``layout``; the others point into the sample HTML
    (their ``excerpt`` shows the offending markup either way).
    """
    layout = layout or ""
    findings: list[compliance.Finding] = []
    if len(layout) > MAX_LAYOUT:
        findings.append(
            _theme_finding(
                "FU-THEME-SIZE",
                MAX_LAYOUT,
                len(layout),
                layout,
                f"A theme may be at most {MAX_LAYOUT} characters.",
            )
        )
    if not any(m.group(1) == "body" for m in SLOT.finditer(layout)):
        findings.append(
            _theme_finding(
                "FU-THEME-BODY", 0, 0, layout, "The theme needs a {{ body }} slot for the text."
            )
        )
    for m in TEMPLATE_SYNTAX.finditer(layout):
        slot = SLOT.fullmatch(m.group(0))
        if slot is None or slot.group(1) not in SLOTS:
            findings.append(
                _theme_finding(
                    "FU-THEME-SLOT",
                    m.start(),
                    m.end(),
                    layout,
                    "A theme may only use the {{ body }} and {{ subject }} slots; "
                    "placeholders belong in the template's text.",
                )
            )
    for m in ACTIVE.finditer(layout):
        findings.append(
            _theme_finding(
                "FU-THEME-ACTIVE",
                m.start(),
                m.end(),
                layout,
                "Scripts, frames, forms, style sheets and background images load or run "
                "content that can track the buyer; they are not allowed in a message.",
            )
        )
    findings.extend(_hidden_active(layout))
    sample = compliance.LintInput(
        text=SAMPLE_TEXT,
        html=wrap(layout, SAMPLE_TEXT, SAMPLE_SUBJECT),
        subject=SAMPLE_SUBJECT,
        channel="email",
        language="en",
        order_id=SAMPLE_ORDER_ID,
        allowed_links=(SAMPLE_LINK,),
    )
    found = compliance.lint(sample, checks if checks is not None else compliance.BUILTIN_CHECKS)
    findings.extend(f for f in found if f.field == "html")
    return findings


def _css_unescape(text: str) -> str:
    def one(m: re.Match) -> str:
        if m.group(1):
            code = int(m.group(1), 16)
            return chr(code) if 0 < code <= 0x10FFFF else "\ufffd"
        return m.group(2)

    return CSS_ESCAPE.sub(one, text)


def _as_read(text: str, entities: bool) -> str:
    """``text`` as the browser reads it: references and CSS escapes decoded, and the
    control characters and spaces it skips in URLs removed."""
    decoded = _css_unescape(html.unescape(text) if entities else text)
    return re.sub(r"[\x00-\x20\x7f]+", "", decoded)


def _hidden_active(layout: str) -> list[compliance.Finding]:
    """``FU-THEME-ACTIVE`` findings for active parts that only show once decoded."""
    spans = []
    for m in ATTR_VALUE.finditer(layout):
        value = next(g for g in m.groups() if g is not None)
        read = _as_read(value, entities=True)
        if (SCRIPT_SCHEME.match(read) or ACTIVE.search(read)) and not ACTIVE.search(value):
            spans.append(m.span())
    for m in STYLE_BLOCK.finditer(layout):
        if ACTIVE.search(_as_read(m.group(1), entities=False)) and not ACTIVE.search(m.group(1)):
            spans.append(m.span(1))
    return [
        _theme_finding(
            "FU-THEME-ACTIVE",
            start,
            end,
            layout,
            "This part hides a script link, style sheet or background image behind "
            "character references or escapes; they are not allowed in a message.",
        )
        for start, end in spans
    ]


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return f"custom-{slug or 'theme'}"


def save_seller_theme(
    name: str, layout: str, *, description: str = "", user: str = "", key: str = "", checks=None
) -> EmailTheme:
    """Create (or, with ``key``, update) a seller theme; ``ThemeRefused`` if it breaks a rule.

    Warnings do not block; any error finding does, so a saved theme is always sendable.
    """
    name = " ".join((name or "").split())
    if not name:
        raise ValueError("give the theme a name")
    errors = [f for f in lint_layout(layout, checks) if f.severity == "error"]
    if errors:
        raise ThemeRefused(errors)
    with database.atomic():
        row = EmailTheme.get_or_none(EmailTheme.key == key) if key else None
        if row is None:
            base = _slug(name)
            new_key, n = base, 2
            while EmailTheme.get_or_none(EmailTheme.key == new_key) is not None:
                new_key, n = f"{base}-{n}", n + 1
            row = EmailTheme(key=new_key, created_by=user)
        row.name = name
        row.description = description.strip()
        row.layout = layout
        row.updated_at = utcnow()
        row.save()
        AuditLog.create(user=user, action="theme_saved", target=row.key, detail=name)
    return row
