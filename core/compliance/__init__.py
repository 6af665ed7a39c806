"""The Amazon communication-guidelines linter (docs/amazon-rules.md §3).

Each rule is a ``ContentCheck`` with a stable id; findings carry the offending span (in
the field they were found in), a plain explanation and the rule's source. Errors block
activation and sending; warnings only show. Wording rules match English, German, French,
Italian, Spanish and Japanese phrasings whatever the declared language, because a text in
the wrong language is exactly the one most likely to slip through. Plugins add rules per
marketplace through ``register_content_checks``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from .base import GUIDE, ContentCheck, Finding, LintInput, allowed_words, log, wording_check
from .markup import (
    EMAIL,
    EMOJI,
    SHORTENER,
    _font_sizes,
    _images,
    _length,
    _line_breaks,
    _links,
    _margins,
    _order_id,
    _phones,
    length_limit,
)
from .reviews import GATING_SOURCE, _change, _gating
from .spelling import _language, _spelling, guess_language
from .wording import (
    INCENTIVE,
    MARKETING,
    OPT_OUT,
    REVIEW_POSITIVE,
    _is_review_request,
    _purpose,
    _second_review,
)

__all__ = [
    "BUILTIN_CHECKS",
    "GUIDE",
    "RULE_IDS",
    "ContentCheck",
    "Finding",
    "LintInput",
    "allowed_words",
    "guess_language",
    "has_errors",
    "length_limit",
    "lint",
    "wording_check",
]


# --- the rule set ------------------------------------------------------------------------
def _rule(rule_id, severity, check, description, source):
    return ContentCheck(rule_id, severity, check, description, source)


BUILTIN_CHECKS: tuple[ContentCheck, ...] = (
    _rule(
        "FU-LINK-EXTERNAL",
        "error",
        _links,
        "external links",
        f"{GUIDE}: prohibited — external links",
    ),
    wording_check(
        "FU-LINK-SHORTENER",
        "error",
        SHORTENER,
        "URL shorteners hide where a link goes and are not allowed.",
        f"{GUIDE}: prohibited — external links",
    ),
    wording_check(
        "FU-EMAIL",
        "error",
        EMAIL,
        "Email addresses are not allowed in a message.",
        f"{GUIDE}: prohibited — email addresses",
        ("text", "subject"),
    ),
    _rule("FU-PHONE", "error", _phones, "phone numbers", f"{GUIDE}: prohibited — phone numbers"),
    wording_check(
        "FU-EMOJI", "error", EMOJI, "Emoji are not allowed.", f"{GUIDE}: styling — no emoji or GIFs"
    ),
    _rule(
        "FU-IMG-TRACKING",
        "error",
        lambda i: (f for f in _images(i) if f.rule_id == "FU-IMG-TRACKING"),
        "tracking pixels",
        f"{GUIDE}: prohibited — tracking pixels",
    ),
    _rule(
        "FU-IMG-INSECURE",
        "error",
        lambda i: (f for f in _images(i) if f.rule_id == "FU-IMG-INSECURE"),
        "remote non-https images",
        f"{GUIDE}: styling — images https only",
    ),
    _rule(
        "FU-GIF",
        "error",
        lambda i: (f for f in _images(i) if f.rule_id == "FU-GIF"),
        "GIF images",
        f"{GUIDE}: styling — no emoji or GIFs",
    ),
    _rule(
        "FU-IMG-WIDTH",
        "error",
        lambda i: (f for f in _images(i) if f.rule_id == "FU-IMG-WIDTH"),
        "image width",
        f"{GUIDE}: styling — image width",
    ),
    wording_check(
        "FU-OPT-OUT",
        "error",
        OPT_OUT,
        "Opt-out or unsubscribe links and wording are not allowed.",
        f"{GUIDE}: prohibited — opt-out links",
    ),
    wording_check(
        "FU-MARKETING",
        "error",
        MARKETING,
        "Marketing, promotions, coupons and links to other products are not allowed.",
        f"{GUIDE}: prohibited — marketing and promotional messages",
    ),
    wording_check(
        "FU-INCENTIVE",
        "error",
        INCENTIVE,
        "Incentives of any kind for a review (refund, gift, discount, free product, draw) "
        "are not allowed.",
        f"{GUIDE}: prohibited — incentives for reviews",
        when=_is_review_request,
    ),
    wording_check(
        "FU-REVIEW-POSITIVE",
        "error",
        REVIEW_POSITIVE,
        "Ask for an honest review: asking for a positive, top or star-count review is not allowed.",
        f"{GUIDE}: prohibited — asking for positive reviews",
    ),
    _rule(
        "FU-REVIEW-GATING",
        "error",
        _gating,
        "review gating: asking only satisfied buyers, or diverting unhappy ones",
        GATING_SOURCE,
    ),
    _rule(
        "FU-REVIEW-CHANGE",
        "error",
        _change,
        "asking to change or remove a review",
        f"{GUIDE}: prohibited — asking to change or remove a review",
    ),
    _rule(
        "FU-REVIEW-TWICE",
        "error",
        _second_review,
        "one review request per order",
        f"{GUIDE}: prohibited — more than one review request",
    ),
    _rule(
        "FU-THANKS-ONLY",
        "error",
        lambda i: (f for f in _purpose(i) if f.rule_id == "FU-THANKS-ONLY"),
        "thank-you-only messages",
        f"{GUIDE}: prohibited — thank-you-only messages",
    ),
    _rule(
        "FU-CONFIRMATION-ONLY",
        "error",
        lambda i: (f for f in _purpose(i) if f.rule_id == "FU-CONFIRMATION-ONLY"),
        "confirmation-only messages",
        f"{GUIDE}: prohibited — order/shipping confirmations",
    ),
    _rule(
        "FU-ORDER-ID-MISSING", "error", _order_id, "17-digit order id", f"{GUIDE}: must — order ID"
    ),
    _rule(
        "FU-LINE-BREAKS", "error", _line_breaks, "line breaks", f"{GUIDE}: styling — line breaks"
    ),
    wording_check(
        "FU-HTML-CENTER",
        "error",
        re.compile(r"text-align\s*:\s*center|<center\b|align\s*=\s*[\"']?center", re.I),
        "Centered text is not allowed.",
        f"{GUIDE}: styling — no centered text",
        ("html",),
    ),
    _rule("FU-HTML-FONT-SIZES", "error", _font_sizes, "at most 3 font sizes", f"{GUIDE}: styling"),
    wording_check(
        "FU-HTML-FONT",
        "error",
        re.compile(
            r"font-family\s*:|(?<![-\w])color\s*:|line-height\s*:|<font\b[^>]*\b(?:face|color)\s*=",
            re.I,
        ),
        "Overriding the font family, colour or line height is not allowed.",
        f"{GUIDE}: styling — no font family, colour or line height overrides",
        ("html",),
    ),
    _rule(
        "FU-HTML-MARGIN", "error", _margins, "margins at most 20%", f"{GUIDE}: styling — margins"
    ),
    _rule(
        "FU-LENGTH", "error", _length, "text length", "Messaging API: text length per message type"
    ),
    _rule("FU-SPELLING", "error", _spelling, "spelling", f"{GUIDE}: no spelling errors"),
    _rule(
        "FU-LANG-MISMATCH", "warning", _language, "buyer's language", f"{GUIDE}: buyer's language"
    ),
)

RULE_IDS: tuple[str, ...] = (*(c.rule_id for c in BUILTIN_CHECKS), "FU-INTERNAL")


def lint(inp: LintInput, checks: Iterable[ContentCheck] = BUILTIN_CHECKS) -> list[Finding]:
    """Every finding of every check, by position; a broken check is an FU-INTERNAL error."""
    findings: list[Finding] = []
    for check in checks:
        try:
            findings.extend(check.check(inp) or ())
        except Exception as exc:  # noqa: BLE001 - a rule bug must not let a message through
            log.exception("content check %s failed", getattr(check, "rule_id", check))
            findings.append(
                Finding(
                    "FU-INTERNAL",
                    "error",
                    0,
                    0,
                    "",
                    f"rule {getattr(check, 'rule_id', '?')} failed: {type(exc).__name__}: {exc}",
                    "Followup",
                )
            )
    return sorted(findings, key=lambda f: (f.start, f.end, f.field, f.rule_id))


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding blocks activation and sending."""
    return any(f.severity == "error" for f in findings)
