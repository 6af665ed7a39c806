"""Spelling (pyspellchecker per language) and a check that a variant is written in its
language."""

from __future__ import annotations

import re
import unicodedata
from functools import cache

from .base import GUIDE, Finding, LintInput, _fields, _finding
from .markup import EMAIL, PLACEHOLDER, URL

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
