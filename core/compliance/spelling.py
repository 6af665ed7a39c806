"""Spelling (pyspellchecker per language) and a check that a variant is written in its
language."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from .base import GUIDE, Finding, LintInput, _fields, _finding
from .dictionaries import lexicon
from .markup import EMAIL, PLACEHOLDER, URL

# --- spelling and language ---------------------------------------------------------------
SPELL_LANGUAGES = ("en", "de", "fr", "it", "es")
TYPO_LANGUAGES = SPELL_LANGUAGES
# Languages that capitalise nouns: a capitalised word mid-sentence is still checked there,
# elsewhere it is taken for a name.
NOUN_CAPITALS = ("de",)
_JA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
SPELLING_SOURCE = f"{GUIDE}: styling — no spelling or grammar errors"


@cache
def _speller(language: str):
    # here, not at the top: start-up cost of pyspellchecker (first spelling check)
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


def _variant_of(word: str, known: str, complete: bool) -> bool:
    """Inflections and spellings a word list may lack are not typos."""
    word, known = word.lower(), known.lower()
    if len(word) == len(known) and word[:-1] == known[:-1] and {word[-1], known[-1]} <= set("aeio"):
        return True  # riceverlo / riceverla: gender or number ending
    for long, short in ((word, known), (known, word)):
        if long.startswith(short) and long[len(short) :] in ("s", "es", "n", "en", "r"):
            return True  # clientes / cliente, explica / explicar: inflections
    if not complete and _fold(word) == _fold(known):
        return True  # without Hunspell some accented forms are missing from the lists
    british = word.replace("our", "or").replace("is", "iz").replace("ys", "yz")
    return british == known


def _allowed(word: str, allowed: tuple[str, ...]) -> bool:
    w = word.casefold()
    return any(w == a or (w.startswith(a) and len(w) - len(a) <= 2) for a in allowed)


def _sentence_start(value: str, start: int) -> bool:
    before = value[:start].rstrip(" \t\"'«„(")
    return not before or before[-1] in ".!?:;\n"


def _spelling(inp: LintInput):
    """A word no dictionary of the language knows, one edit from a word they know, is an
    error: Amazon rejects misspelt messages. Unknown words with no known word that close
    are not reported: they are terms and names the lists lack (docs/linter.md)."""
    if inp.language not in TYPO_LANGUAGES or guess_language(inp.text) not in (None, inp.language):
        return  # a wrong-language text gets FU-LANG-MISMATCH, not a word-by-word list
    lex = lexicon(inp.language)
    allowed = tuple(a.casefold() for a in inp.allowed_words if a)
    for name, value in _fields(inp):
        shown = 0
        for m in _tokens(value):
            word = m.group(0)
            if len(word) < 4 or word.isupper() or value[m.end() : m.end() + 1] in ("'", "’"):
                continue
            capital = word[:1].isupper()
            if capital and not word[1:].islower():
                continue  # iPhone, McDonald: names
            name_like = (
                capital
                and inp.language not in NOUN_CAPITALS
                and not _sentence_start(value, m.start())
            )
            if name_like or _allowed(word, allowed) or lex.known(word):
                continue
            near = lex.near(word)
            if not near or any(_variant_of(word, c, lex.complete) for c in near):
                # No known word one edit away (a term or name the lists lack), or one edit
                # from an inflection the lists lack: not reported.
                continue
            shown += 1
            if shown > 20:
                return
            yield _finding(
                "FU-SPELLING",
                "error",
                m,
                value,
                f"{word!r} is misspelled: did you mean {near[0]!r}? (A product or brand name "
                "goes into the seller account's allowed words.)",
                SPELLING_SOURCE,
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
