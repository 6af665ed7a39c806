"""The Amazon communication-guidelines linter (DOMAIN.md §3).

Each rule is a ``ContentCheck`` with a stable id; findings carry the offending span, a
plain explanation and the rule's source. Errors block activation and sending; warnings
show. Plugins add rules per marketplace through ``register_content_checks``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

log = logging.getLogger(__name__)

GUIDE = "Amazon Communication Guidelines"


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


def _regex_check(rule_id, severity, pattern, explanation, source, fields=("text", "subject")):
    compiled = re.compile(pattern, re.IGNORECASE | re.UNICODE)

    def check(inp: LintInput):
        for name in fields:
            value = getattr(inp, name)
            for m in compiled.finditer(value or ""):
                yield Finding(
                    rule_id, severity, m.start(), m.end(), m.group(0), explanation, source, name
                )

    return ContentCheck(rule_id, severity, check, explanation, source)


URL = r"(?:https?://|www\.)[^\s<>\"']+"
SHORTENERS = r"(?:bit\.ly|tinyurl\.com|goo\.gl|t\.co|ow\.ly|is\.gd|buff\.ly)/\S*"


def _links(inp: LintInput):
    for name in ("text", "subject", "html"):
        value = getattr(inp, name) or ""
        for m in re.finditer(URL, value, re.IGNORECASE):
            url = m.group(0).rstrip(".,;:)")
            allowed = url.startswith("https://") and any(
                url.startswith(a) for a in inp.allowed_links
            )
            if name == "html" and re.search(
                r"src=[\"']?$", value[max(0, m.start() - 6) : m.start()]
            ):
                continue  # images are judged by FU-IMG-*
            if not allowed:
                yield Finding(
                    "FU-LINK-EXTERNAL",
                    "error",
                    m.start(),
                    m.start() + len(url),
                    url,
                    "External links are not allowed, except secure links needed to "
                    "complete the order.",
                    f"{GUIDE}: prohibited — external links",
                    name,
                )


ORDER_ID = re.compile(r"\d{3}-\d{7}-\d{7}")
PHONE = re.compile(r"(?<![\d-])\+?\d[\d\s().-]{7,}\d(?![\d-])")


def _phones(inp: LintInput):
    for name in ("text", "subject"):
        for m in PHONE.finditer(getattr(inp, name) or ""):
            if ORDER_ID.fullmatch(m.group(0).strip()):
                continue  # the order id is required, not a phone number
            severity = "warning" if inp.message_type == "createWarranty" else "error"
            yield Finding(
                "FU-PHONE",
                severity,
                m.start(),
                m.end(),
                m.group(0),
                "Phone numbers are not allowed (except warranty, carrier or manufacturer).",
                f"{GUIDE}: prohibited — phone numbers",
                name,
            )


def _order_id(inp: LintInput):
    if inp.is_template_source:
        if re.search(r"\{\{\s*order_id\s*\}\}", inp.text + inp.subject):
            return
    elif re.search(r"\b\d{3}-\d{7}-\d{7}\b", inp.text + " " + inp.subject):
        return
    if inp.channel == "solicitation":
        return
    yield Finding(
        "FU-ORDER-ID-MISSING",
        "error",
        0,
        0,
        "",
        "Every message must contain the 17-digit Amazon order ID ({{ order_id }}).",
        f"{GUIDE}: must — order ID",
    )


def _length(inp: LintInput):
    limits = {"confirmCustomizationDetails": 800, "createDigitalAccessKey": 400}
    limit = inp.max_length or (
        limits.get(inp.message_type, 2000) if inp.channel == "messaging" else None
    )
    if limit and not inp.is_template_source and len(inp.text) > limit:
        yield Finding(
            "FU-LENGTH",
            "error",
            limit,
            len(inp.text),
            inp.text[limit : limit + 30],
            f"The text is {len(inp.text)} characters; this message type allows {limit}.",
            "Messaging API: text length per message type",
        )


def _second_review(inp: LintInput):
    if inp.sequence_has_review_request:
        for f in REVIEW_ASK.check(inp):
            yield Finding(
                "FU-REVIEW-TWICE",
                "error",
                f.start,
                f.end,
                f.excerpt,
                "This sequence already requests a review; Amazon allows one review "
                "request per order (Request a Review counts too).",
                f"{GUIDE}: prohibited — more than one review request",
                f.field,
            )


REVIEW_ASK = _regex_check(
    "FU-REVIEW-ASK",
    "warning",
    r"\b(review|bewertung|rezension|avis|évaluation|recensione|reseña|opinión)\b|レビュー",
    "This text asks for a review.",
    GUIDE,
)

BUILTIN_CHECKS: tuple[ContentCheck, ...] = (
    ContentCheck("FU-LINK-EXTERNAL", "error", _links, "external links", GUIDE),
    _regex_check(
        "FU-LINK-SHORTENER",
        "error",
        SHORTENERS,
        "URL shorteners hide where a link goes.",
        f"{GUIDE}: prohibited — external links",
    ),
    _regex_check(
        "FU-EMAIL",
        "error",
        r"[\w.+-]+@[\w-]+\.[\w.-]+",
        "Email addresses are not allowed.",
        f"{GUIDE}: prohibited — email addresses",
    ),
    ContentCheck(
        "FU-PHONE", "error", _phones, "phone numbers", f"{GUIDE}: prohibited — phone numbers"
    ),
    _regex_check(
        "FU-EMOJI",
        "error",
        "[\U0001f300-\U0001faff\u2600-\u27bf]",
        "Emoji are not allowed.",
        f"{GUIDE}: styling — no emoji",
    ),
    _regex_check(
        "FU-INCENTIVE",
        "error",
        r"\b(refund|gift card|free (product|sample)|discount|coupon|giveaway|draw|"
        r"gutschein|rabatt|geschenk|gratis|remboursement|bon d'achat|rimborso|buono|"
        r"reembolso|cupón|descuento)\b|クーポン|割引|返金|プレゼント",
        "Incentives (refunds, gifts, discounts, coupons, draws) are not allowed.",
        f"{GUIDE}: prohibited — incentives and marketing",
    ),
    _regex_check(
        "FU-REVIEW-POSITIVE",
        "error",
        r"\b(5|five|fünf|cinq|cinque|cinco)[ -]?(star|stern|étoile|stell|estrella)|"
        r"positive (review|feedback)|positive bewertung|avis positif|recensione positiva|"
        r"reseña positiva|only if (you are|you're) (satisfied|happy)|nur wenn sie zufrieden|"
        r"5つ星|星5|高評価",
        "Asking for a positive or five-star review, or only satisfied buyers, is not allowed.",
        f"{GUIDE}: prohibited — review manipulation",
    ),
    _regex_check(
        "FU-REVIEW-CHANGE",
        "error",
        r"\b(change|remove|delete|update) (your|the) (review|feedback)|"
        r"bewertung (ändern|löschen|entfernen)|modifier votre avis",
        "Asking to change or remove a review is not allowed.",
        f"{GUIDE}: prohibited — review manipulation",
    ),
    _regex_check(
        "FU-OPT-OUT",
        "error",
        r"\b(unsubscribe|opt[ -]?out|abmelden|désinscri)",
        "Opt-out links and wording are not allowed.",
        f"{GUIDE}: prohibited — opt-out links",
    ),
    _regex_check(
        "FU-LINE-BREAKS",
        "error",
        r"\n\s*\n\s*\n",
        "At most 2 consecutive line breaks.",
        f"{GUIDE}: styling — line breaks",
        ("text",),
    ),
    _regex_check(
        "FU-HTML-CENTER",
        "error",
        r"text-align\s*:\s*center|<center|align=[\"']?center",
        "Centered text is not allowed.",
        f"{GUIDE}: styling",
        ("html",),
    ),
    _regex_check(
        "FU-HTML-FONT",
        "error",
        r"font-family\s*:|(?<![-\w])color\s*:|line-height\s*:|<font",
        "Overriding font family, colour or line height is not allowed.",
        f"{GUIDE}: styling",
        ("html",),
    ),
    _regex_check(
        "FU-IMG-HTTP",
        "error",
        r"<img[^>]+src=[\"']?http://",
        "Images must use https.",
        f"{GUIDE}: styling — images",
        ("html",),
    ),
    ContentCheck("FU-ORDER-ID-MISSING", "error", _order_id, "order id required", GUIDE),
    ContentCheck("FU-LENGTH", "error", _length, "text length", "Messaging API"),
    ContentCheck("FU-REVIEW-TWICE", "error", _second_review, "one review request", GUIDE),
)


def lint(inp: LintInput, checks: Iterable[ContentCheck] = BUILTIN_CHECKS) -> list[Finding]:
    """Every finding of every check, by position; a broken check is an FU-INTERNAL error."""
    findings: list[Finding] = []
    for check in checks:
        try:
            findings.extend(check.check(inp))
        except Exception as exc:  # noqa: BLE001 - a rule bug must not let a message through
            log.exception("content check %s failed", check.rule_id)
            findings.append(
                Finding(
                    "FU-INTERNAL",
                    "error",
                    0,
                    0,
                    "",
                    f"rule {check.rule_id} failed: {exc}",
                    "Followup",
                )
            )
    return sorted(findings, key=lambda f: (f.field, f.start, f.rule_id))


def has_errors(findings: Iterable[Finding]) -> bool:
    return any(f.severity == "error" for f in findings)
