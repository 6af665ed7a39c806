"""Links, addresses, numbers, HTML styling, required order id, line breaks and length."""

from __future__ import annotations

import re

from .base import FIELDS, GUIDE, Finding, LintInput, _fields, _finding

URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
SHORTENER = re.compile(
    r"\b(?:bit\.ly|tinyurl\.com|goo\.gl|t\.co|ow\.ly|is\.gd|buff\.ly|rebrand\.ly|cutt\.ly|"
    r"shorturl\.at|tiny\.cc|rb\.gy|amzn\.to|a\.co)/\S*",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
ORDER_ID = re.compile(r"(?<!\d)\d{3}-\d{7}-\d{7}(?!\d)")
PHONE = re.compile(r"(?<![\w-])\+?\(?\d[\d\s()./-]{7,}\d(?![\w-])")
PLACEHOLDER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff\ufe0f]")
IMG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
ATTR = r"""{name}\s*=\s*["']?([^"'\s>]*)"""


# --- links, addresses, numbers ----------------------------------------------------------
def _links(inp: LintInput):
    for name, value in _fields(inp, FIELDS):
        for m in URL.finditer(value):
            url = m.group(0).rstrip(".,;:)!?")
            if name == "html" and re.search(
                r"src\s*=\s*[\"']?$", value[max(0, m.start() - 8) : m.start()]
            ):
                continue  # images are judged by the FU-IMG-* rules
            if SHORTENER.search(url):
                continue  # FU-LINK-SHORTENER says it better
            if url.startswith("https://") and any(url.startswith(a) for a in inp.allowed_links):
                continue
            yield _finding(
                "FU-LINK-EXTERNAL",
                "error",
                (m.start(), m.start() + len(url)),
                value,
                "External links are not allowed, except secure (https) links needed to "
                "complete the order (for example an invoice).",
                f"{GUIDE}: prohibited — external links",
                name,
            )


def _phones(inp: LintInput):
    severity = "warning" if inp.message_type == "createWarranty" else "error"
    for name, value in _fields(inp):
        for m in PHONE.finditer(value):
            digits = re.sub(r"\D", "", m.group(0))
            if len(digits) < 9 or ORDER_ID.search(m.group(0)):
                continue  # dates, prices and the (required) order id are not phone numbers
            if re.fullmatch(r"\d{4}[-./]\d{2}[-./]\d{2}", m.group(0).strip()):
                continue
            yield _finding(
                "FU-PHONE",
                severity,
                m,
                value,
                "Phone numbers are not allowed (only warranty, carrier or manufacturer "
                "numbers, in a warranty message).",
                f"{GUIDE}: prohibited — phone numbers",
                name,
            )


# --- HTML styling -----------------------------------------------------------------------
def _attr(tag: str, name: str) -> str:
    m = re.search(ATTR.format(name=name), tag, re.IGNORECASE)
    return m.group(1).strip() if m else ""


def _style(tag: str, prop: str) -> str:
    m = re.search(rf"(?<![-\w]){prop}\s*:\s*([^;\"']+)", tag, re.IGNORECASE)
    return m.group(1).strip() if m else ""


def _images(inp: LintInput):
    html = inp.html or ""
    for m in IMG.finditer(html):
        tag = m.group(0)
        src = _attr(tag, "src")
        width, height = _attr(tag, "width") or _style(tag, "width"), _attr(tag, "height")
        height = height or _style(tag, "height")
        if re.fullmatch(r"[01](?:px)?", width) or re.fullmatch(r"[01](?:px)?", height):
            yield _finding(
                "FU-IMG-TRACKING",
                "error",
                m,
                html,
                "Tiny (1×1) images are tracking pixels, which Amazon prohibits.",
                f"{GUIDE}: prohibited — tracking pixels",
                "html",
            )
        if not src.lower().startswith("https://") and not src.lower().startswith("cid:"):
            yield _finding(
                "FU-IMG-INSECURE",
                "error",
                m,
                html,
                "Images must be embedded or load over https; remote http images can track "
                "the buyer.",
                f"{GUIDE}: styling — images https only; prohibited — tracking images",
                "html",
            )
        if re.search(r"\.gif(?:$|[?#])", src, re.IGNORECASE):
            yield _finding(
                "FU-GIF",
                "error",
                m,
                html,
                "GIF images are not allowed.",
                f"{GUIDE}: styling — no emoji or GIFs",
                "html",
            )
        pct = re.fullmatch(r"(\d+(?:\.\d+)?)%", width)
        if pct and float(pct.group(1)) > 80:
            yield _finding(
                "FU-IMG-WIDTH",
                "error",
                m,
                html,
                "Images may be at most 80% wide.",
                f"{GUIDE}: styling — image width",
                "html",
            )


def _font_sizes(inp: LintInput):
    html = inp.html or ""
    pattern = r"font-size\s*:\s*([^;\"'>]+)|<font\b[^>]*\bsize\s*=\s*[\"']?([^\"'\s>]+)|<h([1-6])\b"
    seen: list[str] = []
    for m in re.finditer(pattern, html, re.IGNORECASE):
        size = (m.group(1) or m.group(2) or f"h{m.group(3)}").strip().lower()
        if size not in seen:
            seen.append(size)
            if len(seen) > 3:
                yield _finding(
                    "FU-HTML-FONT-SIZES",
                    "error",
                    m,
                    html,
                    f"At most 3 font sizes are allowed; this is the {len(seen)}th.",
                    f"{GUIDE}: styling — at most 3 font sizes",
                    "html",
                )


def _margins(inp: LintInput):
    html = inp.html or ""
    for m in re.finditer(
        r"(?<![-\w])margin(?:-left|-right|-top|-bottom)?\s*:\s*([^;\"'>]+)", html, re.I
    ):
        if any(float(p) > 20 for p in re.findall(r"(\d+(?:\.\d+)?)%", m.group(1))):
            yield _finding(
                "FU-HTML-MARGIN",
                "error",
                m,
                html,
                "Margins may be at most 20%.",
                f"{GUIDE}: styling — margins",
                "html",
            )


# --- required content, shape, length ---------------------------------------------------
def _order_id(inp: LintInput):
    if inp.channel == "solicitation":
        return
    body = " ".join(v for _, v in _fields(inp, FIELDS))
    if inp.is_template_source and re.search(r"\{\{\s*order_id\b[^}]*\}\}", body):
        return
    if inp.order_id and inp.order_id in body or not inp.order_id and ORDER_ID.search(body):
        return
    yield Finding(
        "FU-ORDER-ID-MISSING",
        "error",
        0,
        0,
        "",
        "Every message must contain the 17-digit Amazon order ID: add {{ order_id }}.",
        f"{GUIDE}: must — order ID in every message",
    )


def _line_breaks(inp: LintInput):
    for name, value, pattern in (
        ("text", inp.text or "", r"(?:\r?\n[ \t]*){3,}"),
        ("html", inp.html or "", r"(?:<br\s*/?>\s*){3,}"),
    ):
        for m in re.finditer(pattern, value, re.IGNORECASE):
            yield _finding(
                "FU-LINE-BREAKS",
                "error",
                m,
                value,
                "At most 2 consecutive line breaks (one empty line) are allowed.",
                f"{GUIDE}: styling — at most 2 consecutive line breaks",
                name,
            )


# Text limits of the Messaging API per message type (docs/amazon-rules.md §2.2).
LENGTH_LIMITS = {"confirmCustomizationDetails": 800, "createDigitalAccessKey": 400}
MESSAGING_LIMIT = 2000


def length_limit(channel: str, message_type: str, sender_limit: int | None = None) -> int | None:
    """The most characters a message of this type may have on this channel, or None."""
    limits = [sender_limit] if sender_limit else []
    if channel == "messaging":
        limits.append(LENGTH_LIMITS.get(message_type, MESSAGING_LIMIT))
    return min(limits) if limits else None


def _length(inp: LintInput):
    limit = inp.max_length
    if limit is None and not inp.is_template_source:
        limit = length_limit(inp.channel, inp.message_type)
    if limit and len(inp.text) > limit:
        yield Finding(
            "FU-LENGTH",
            "error",
            limit,
            len(inp.text),
            inp.text[limit : limit + 40],
            f"The text is {len(inp.text)} characters; this message type allows {limit}. "
            "Everything from here on is too much.",
            "Messaging API: text length per message type",
        )
