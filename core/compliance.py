"""The Amazon communication-guidelines linter (DOMAIN.md §3).

Each rule is a ``ContentCheck`` with a stable id; findings carry the offending span (in
the field they were found in), a plain explanation and the rule's source. Errors block
activation and sending; warnings only show. Wording rules match English, German, French,
Italian, Spanish and Japanese phrasings whatever the declared language, because a text in
the wrong language is exactly the one most likely to slip through. Plugins add rules per
marketplace through ``register_content_checks``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

log = logging.getLogger(__name__)

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


# --- wording lists, by language (en, de, fr, it, es, ja) ------------------------------
REVIEW_ASK = _words(
    r"reviews?|feedback|rating",
    r"bewertung(?:en)?|rezension(?:en)?|bewerten",
    r"avis|évaluation|évaluer|commentaire",
    r"recensione|recensioni|valutazione|recensire",
    r"reseña|reseñas|opinión|valoración|valorar",
    r"レビュー|評価|口コミ",
)
INCENTIVE = _words(
    r"refunds?|reimburse\w*|money back|cash ?back|gift cards?"
    r"|free (?:product|gift|sample|item|unit)s?"
    r"|giveaways?|prize|(?:prize|lucky) draw|raffle|sweepstakes?|in exchange for|rewards?"
    r"|discounts?|coupons?|vouchers?",
    r"erstatt\w*|rückerstattung|geld zurück|geschenk\w*|gratis|kostenlose?s? produkt"
    r"|gewinnspiel|verlosung|belohnung|gutschein\w*|rabatt\w*|im austausch",
    r"rembours\w*|cadeaux?|gratuite?s?|tirage au sort|concours|récompenses?|en échange|réduction",
    r"rimbors\w*|regal[oi]|omaggio|gratuit[oa]|estrazione|concorso|premio|in cambio|sconto",
    r"reembols\w*|regalos?|gratis|sorteo|recompensas?|a cambio|descuento|cupón",
    r"返金|プレゼント|無料|割引|クーポン|抽選|キャッシュバック|特典|ギフト券|お礼に",
)
MARKETING = _words(
    r"coupons?|promo(?:tion(?:al)?)? codes?|discount codes?|vouchers?|\d+ ?% off|special offers?"
    r"|on sale|our (?:other|new|latest) products|visit our (?:store|shop)|check out our"
    r"|follow us|newsletter",
    r"gutschein\w*|rabatt\w*|sonderangebot\w*|unsere(?:n|r)? (?:anderen|weiteren|neuen) produkte"
    r"|besuchen sie unseren shop|folgen sie uns",
    r"codes? promo|bons? de réduction|réductions?|promotions?|nos autres produits|nouveautés"
    r"|suivez-nous",
    r"codic[ei] sconto|sconti|promozion[ei]|offerte? special[ei]|nostri altri prodotti|seguici",
    r"cupón|cupones|códigos? de descuento|descuentos?|promoci[oó]n(?:es)?|ofertas? especial(?:es)?"
    r"|nuestros otros productos|síguenos",
    r"クーポン|割引|セール|キャンペーン|他の商品|新商品|プロモーション",
)
REVIEW_POSITIVE = _words(
    r"(?:[1-5]|one|two|three|four|five|fünf|cinq|cinque|cinco)[ -]?(?:stars?|sterne?n?|étoiles?"
    r"|stelle|estrellas?)",
    r"positive (?:review|feedback|rating)s?|good review|great review|glowing review",
    r"positive bewertung(?:en)?|gute bewertung(?:en)?|positive rezension",
    r"avis positifs?|bon avis|évaluation positive",
    r"recensione positiva|buona recensione|valutazione positiva",
    r"reseñas? positivas?|buena reseña|valoración positiva|opinión positiva",
    r"if you (?:are|were|'re|feel) (?:satisfied|happy|pleased)"
    r"|if you (?:liked|love|loved|enjoy(?:ed)?)",
    r"(?:nur )?(?:wenn|falls) sie (?:mit \w+ \w+ )?zufrieden",
    r"si vous (?:êtes|étiez) satisfaite?s?|si vous avez aimé",
    r"se (?:sei|è|siete) soddisfatt[oaie]|se (?:le|ti) è piaciuto",
    r"si (?:está|estás|quedó) satisfech[oa]|si le ha gustado|si te ha gustado",
    r"5つ星|星5|星５|★5|高評価|良いレビュー|ご満足いただけ(?:た|まし)",
)
REVIEW_CHANGE = _words(
    r"(?:change|remove|delete|update|revise|edit|amend|withdraw|take down|reconsider)"
    r" (?:your|the|a|that|this)(?: negative| bad)? (?:review|feedback|rating)",
    r"bewertung (?:zu )?(?:ändern|löschen|entfernen|zurückziehen|anpassen|überdenken)",
    r"(?:modifier|supprimer|retirer|changer) (?:votre|l'|cet|ce) ?(?:avis|évaluation|commentaire)",
    r"(?:modificare|rimuovere|cancellare|eliminare) (?:la sua |la tua |la )?"
    r"(?:recensione|valutazione)",
    r"(?:cambiar|modificar|eliminar|borrar|retirar) (?:su |tu |la )?(?:reseña|opinión|valoración)",
    r"(?:レビュー|評価)を?(?:変更|削除|修正|取り下げ)",
)
OPT_OUT = _words(
    r"unsubscribe|opt[ -]?out|stop receiving",
    r"abmelden|abbestellen|keine (?:weiteren )?(?:e-mails|nachrichten)",
    r"désinscri\w*|désabonn\w*|ne plus recevoir",
    r"disiscriv\w*|annullare l'iscrizione|non ricevere più",
    r"darse de baja|darte de baja|cancelar (?:la )?suscripción|dejar de recibir",
    r"配信停止|購読解除|配信を停止",
)
THANKS = _words(r"thanks?|thank you|danke\w*|merci|grazie|gracias|ありがとう|感謝")
CONTACT = _words(
    r"contact us|let us know|reach out|get in touch|write to us",
    r"kontaktieren|melden sie sich|lassen sie es uns wissen|schreiben sie uns",
    r"contactez|n'hésitez pas|écrivez-nous",
    r"contattar\w*|fateci sapere|ci scriva|scriveteci",
    r"contáctenos|contacta\w*|póngase en contacto|escríbanos",
    r"お問い合わせ|ご連絡|ご相談",
)
CONFIRMATION = _words(
    r"(?:has|have) (?:now )?(?:been )?(?:shipped|dispatched|delivered|confirmed|refunded)"
    r"|is on (?:its|the) way|was (?:shipped|delivered)|refund has been",
    r"(?:wurde|ist) (?:\w+ )?(?:versandt|verschickt|zugestellt|geliefert|bestätigt|erstattet)"
    r"|ist unterwegs",
    r"a été (?:expédiée?|livrée?|confirmée?|remboursée?)|est en route|est en chemin",
    r"è stat[oa] (?:spedit[oa]|consegnat[oa]|confermat[oa]|rimborsat[oa])|è in viaggio",
    r"ha sido (?:enviad[oa]|entregad[oa]|confirmad[oa]|reembolsad[oa])|está en camino",
    r"発送(?:しました|いたしました|されました)|お届けしました|配達(?:され|し)ました|確認(?:しました|いたしました)",
)
NEUTRAL = _words(
    r"hello|hi|dear|best regards|kind regards|regards|sincerely|best wishes",
    r"hallo|guten tag|mit freundlichen grüßen|viele grüße|beste grüße",
    r"bonjour|cordialement|bien à vous|salutations",
    r"ciao|buongiorno|cordiali saluti|distinti saluti",
    r"hola|saludos|atentamente|un saludo",
    r"こんにちは|よろしくお願い|敬具",
)

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


def _is_review_request(inp: LintInput) -> bool:
    return inp.message_type == "review_request" or any(
        REVIEW_ASK.search(v) for _, v in _fields(inp, FIELDS)
    )


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


LENGTH_LIMITS = {"confirmCustomizationDetails": 800, "createDigitalAccessKey": 400}


def _length(inp: LintInput):
    limit = inp.max_length
    if limit is None and inp.channel == "messaging" and not inp.is_template_source:
        limit = LENGTH_LIMITS.get(inp.message_type, 2000)
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


def _sentences(text: str):
    for m in re.finditer(r"[^.!?。！？\n]+", text):
        if m.group(0).strip():
            yield m


def _short(sentence: str, words: int) -> bool:
    if re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", sentence):
        return len(sentence.strip()) <= words * 3
    return len(sentence.split()) <= words


def _purpose(inp: LintInput):
    """Messages whose every sentence only thanks, offers contact or confirms are prohibited."""
    text = PLACEHOLDER.sub(" x ", inp.text or "")
    kinds: set[str] = set()
    for m in _sentences(text):
        s = m.group(0)
        if CONFIRMATION.search(s) and _short(s, 16):
            kinds.add("confirmation")
        elif (THANKS.search(s) or CONTACT.search(s)) and _short(s, 14):
            kinds.add("thanks")
        elif NEUTRAL.search(s) and _short(s, 5) or _short(s, 3):
            continue
        else:
            return  # a sentence with a real purpose
    if "confirmation" in kinds:
        yield Finding(
            "FU-CONFIRMATION-ONLY",
            "error",
            0,
            len(inp.text),
            inp.text[:80],
            "Order, shipping, delivery or refund confirmations are prohibited: Amazon "
            "already sends them. Add the permitted purpose of the message.",
            f"{GUIDE}: prohibited — order, shipping, delivery or refund confirmations",
        )
    elif "thanks" in kinds:
        yield Finding(
            "FU-THANKS-ONLY",
            "error",
            0,
            len(inp.text),
            inp.text[:80],
            "A message that only says thank you or 'contact us if there is a problem' is "
            "prohibited. Add the permitted purpose of the message.",
            f"{GUIDE}: prohibited — thank-you-only messages",
        )


def _second_review(inp: LintInput):
    if not inp.sequence_has_review_request:
        return
    for name, value in _fields(inp, FIELDS):
        m = REVIEW_ASK.search(value)
        if m:
            yield _finding(
                "FU-REVIEW-TWICE",
                "error",
                m,
                value,
                "This sequence already requests a review; Amazon allows one review request "
                "per order (Request a Review counts too).",
                f"{GUIDE}: prohibited — more than one review request per order",
                name,
            )
            return


# --- spelling and language ---------------------------------------------------------------
SPELL_LANGUAGES = ("en", "de", "fr", "it", "es")
# pyspellchecker 0.9's Spanish dictionary lacks common verb forms ("tiene", "pueda"), so
# Spanish is used to detect the language but not to flag single words.
TYPO_LANGUAGES = ("en", "de", "fr", "it")
_JA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


@cache
def _speller(language: str):
    from spellchecker import SpellChecker

    return SpellChecker(language=language, distance=1)


def _plain(text: str) -> str:
    """The text without placeholders, links and addresses (same length: spans stay valid)."""
    for pattern in (PLACEHOLDER, URL, EMAIL):
        text = pattern.sub(lambda m: " " * len(m.group(0)), text)
    return text


def _tokens(text: str):
    return list(re.finditer(r"(?<![\w'’-])[^\W\d_]+(?![\w-])", _plain(text)))


def _fold(word: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))


def _variant_of(word: str, known: str) -> bool:
    """Inflections and British spellings the dictionaries lack are not typos."""
    if len(word) == len(known) and word[:-1] == known[:-1] and {word[-1], known[-1]} <= set("aeio"):
        return True  # riceverlo / riceverla: gender or number ending
    for long, short in ((word, known), (known, word)):
        if long.startswith(short) and long[len(short) :] in ("s", "es", "n", "en", "r"):
            return True  # clientes / cliente, explica / explicar: inflections
    if _fold(word) != word and _fold(word)[:-1] == _fold(known)[: len(word) - 1]:
        return True  # entregará / entregar: accented forms some dictionaries lack
    if _fold(word) == _fold(known):
        return True  # cómo / como: dictionaries without some accented forms
    british = word.replace("our", "or").replace("is", "iz").replace("ys", "yz")
    return british == known


def _typo(speller, word: str) -> str | None:
    """A frequent known word one edit away, when ``word`` looks like a typo of it."""
    candidates = speller.candidates(word) or ()
    if any(_variant_of(word, c) for c in candidates):
        return None
    best = max(candidates, key=lambda c: speller[c], default=None)
    if best is None or best == word or speller[best] < 500:
        return None
    return best


def _spelling(inp: LintInput):
    if inp.language not in TYPO_LANGUAGES or guess_language(inp.text) not in (None, inp.language):
        return  # a wrong-language text gets FU-LANG-MISMATCH, not a word-by-word list
    speller = _speller(inp.language)
    for name, value in _fields(inp):
        candidates = [
            m
            for m in _tokens(value)
            if len(m.group(0)) >= 4
            and m.group(0).islower()
            and value[m.end() : m.end() + 1] not in ("'", "’")
        ]
        unknown = speller.unknown([m.group(0) for m in candidates])
        shown = 0
        for m in candidates:
            if m.group(0) not in unknown or shown >= 20:
                continue
            fix = _typo(speller, m.group(0))
            if fix:
                shown += 1
                yield _finding(
                    "FU-SPELLING",
                    "warning",
                    m,
                    value,
                    f"{m.group(0)!r} looks misspelled: did you mean {fix!r}?",
                    f"{GUIDE}: styling — no spelling or grammar errors",
                    name,
                )


def guess_language(text: str) -> str | None:
    """The most likely of en/de/fr/it/es/ja for ``text``, or None when too short to tell."""
    letters = [c for c in _plain(text) if c.isalpha()]
    if letters and sum(1 for c in letters if _JA.match(c)) / len(letters) > 0.3:
        return "ja"
    words = [m.group(0).lower() for m in _tokens(text) if len(m.group(0)) >= 2]
    if len(words) < 5:
        return None
    scores = {lang: len(words) - len(_speller(lang).unknown(words)) for lang in SPELL_LANGUAGES}
    return max(scores, key=scores.get)


def _language(inp: LintInput):
    if inp.language not in (*SPELL_LANGUAGES, "ja"):
        return
    guess = guess_language(inp.text or "")
    if guess is None or guess == inp.language:
        return
    if guess != "ja" and inp.language != "ja":
        words = [m.group(0).lower() for m in _tokens(inp.text) if len(m.group(0)) >= 2]
        own = len(words) - len(_speller(inp.language).unknown(words))
        best = len(words) - len(_speller(guess).unknown(words))
        if best - own < 0.15 * len(words):
            return  # too close to call: no warning
    yield Finding(
        "FU-LANG-MISMATCH",
        "warning",
        0,
        len(inp.text),
        inp.text[:80],
        f"This {inp.language!r} variant looks written in {guess!r}; Amazon requires the "
        "buyer's preferred language.",
        f"{GUIDE}: must — the buyer's preferred language",
    )


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
        "Ask for an honest review: asking for a positive or star-count review, or only "
        "satisfied buyers, is not allowed.",
        f"{GUIDE}: prohibited — asking for positive reviews",
    ),
    wording_check(
        "FU-REVIEW-CHANGE",
        "error",
        REVIEW_CHANGE,
        "Asking a buyer to change or remove a review is not allowed.",
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
    _rule("FU-SPELLING", "warning", _spelling, "spelling", f"{GUIDE}: no spelling errors"),
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
