"""The word lists the spelling rule checks against, one lexicon per marketplace language.

A word is known when any of these knows it: Debian's word lists (``/usr/share/dict``:
wamerican/wbritish, wngerman, wfrench, witalian, wspanish), the Hunspell dictionaries
(``/usr/share/hunspell``, read with spylls, which knows every inflection and German
compound the lists lack) and pyspellchecker's frequency list. ``scripts/ensure-dictionaries``
installs the Debian packages (``make test`` and ``make run`` call it). Without them the
rule falls back to pyspellchecker alone and says so in the log once.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import cache
from pathlib import Path

log = logging.getLogger("core.compliance")

DICT_DIR = Path(os.environ.get("FOLLOWUP_DICT_DIR", "/usr/share/dict"))
HUNSPELL_DIR = Path(os.environ.get("FOLLOWUP_HUNSPELL_DIR", "/usr/share/hunspell"))
WORDLISTS = {
    "en": ("american-english", "british-english"),
    "de": ("ngerman",),
    "fr": ("french",),
    "it": ("italian",),
    "es": ("spanish",),
}
HUNSPELL = {
    "en": ("en_US", "en_GB"),
    "de": ("de_DE",),
    "fr": ("fr_FR",),
    "it": ("it_IT",),
    "es": ("es_ES",),
}
LETTERS = {
    "en": "abcdefghijklmnopqrstuvwxyz",
    "de": "abcdefghijklmnopqrstuvwxyzäöüß",
    "fr": "abcdefghijklmnopqrstuvwxyzàâæçéèêëîïôœùûüÿ",
    "it": "abcdefghijklmnopqrstuvwxyzàèéìíîòóùú",
    "es": "abcdefghijklmnopqrstuvwxyzáéíóúñü",
}
# Debian's Spanish list has no plurals or verb forms ("instrucciones", "tiene"): near words
# are also looked up in Hunspell there (fast for Spanish; German and French lists are
# inflected and their Hunspell lookups slow).
HUNSPELL_NEAR = ("es",)
# Productive prefixes: "prelavadas", "vorgewaschen", "unscrew" are words when the rest is.
PREFIXES = {
    "en": ("pre", "re", "un", "non", "over", "under", "anti", "multi", "mini", "self"),
    "de": ("vor", "nach", "un", "über", "unter", "wieder", "mini", "multi", "anti"),
    "fr": ("pré", "re", "ré", "dé", "anti", "multi", "mini", "sur", "sous", "auto"),
    "it": ("pre", "ri", "anti", "multi", "mini", "auto", "sopra", "sotto", "stra"),
    "es": ("pre", "re", "des", "anti", "multi", "mini", "auto", "sobre", "sub"),
}
_lock = threading.Lock()


def missing() -> list[str]:
    """The word lists and dictionaries that are not installed (for the doctor and tests)."""
    out = [str(DICT_DIR / n) for names in WORDLISTS.values() for n in names]
    out += [str(HUNSPELL_DIR / f"{n}.dic") for names in HUNSPELL.values() for n in names]
    return [p for p in out if not Path(p).exists()]


class Lexicon:
    """Every word known in one language; ``known`` and ``near`` answer spelling questions."""

    def __init__(self, language: str):
        # here, not at the top: start-up cost of pyspellchecker (first spelling check)
        from spellchecker import SpellChecker

        self.language = language
        self.speller = SpellChecker(language=language, distance=1)
        self.words: set[str] = set(self.speller.word_frequency.keys())
        self.complete = True
        for name in WORDLISTS[language]:
            path = DICT_DIR / name
            if path.exists():
                self.words.update(path.read_text(encoding="utf-8").split())
            else:
                self.complete = False
        self.hunspell = []
        for name in HUNSPELL[language]:
            if (HUNSPELL_DIR / f"{name}.dic").exists():
                # here, not at the top: start-up cost of spylls (installed dictionaries only)
                from spylls.hunspell import Dictionary

                self.hunspell.append(Dictionary.from_files(str(HUNSPELL_DIR / name)))
            else:
                self.complete = False
        if not self.complete:
            log.warning(
                "spelling (%s): word lists or Hunspell dictionaries missing (%s); run "
                "scripts/ensure-dictionaries. Checking with pyspellchecker only.",
                language,
                ", ".join(missing()),
            )

    @cache  # noqa: B019 - one lexicon per language lives as long as the process
    def known(self, word: str) -> bool:
        """``word`` as written, or lower-cased (a capitalised sentence start), is a word."""
        forms = (word, word.lower()) if word[:1].isupper() else (word,)
        if any(f in self.words for f in forms):
            return True
        if any(d.lookup(f) for d in self.hunspell for f in forms):
            return True
        low = word.lower()
        return any(
            low.startswith(p) and len(low) - len(p) >= 5 and self.known(low[len(p) :])
            for p in PREFIXES[self.language]
        )

    def near(self, word: str) -> list[str]:
        """The listed words one edit (delete, swap, replace, insert) away from ``word``."""
        letters = LETTERS[self.language]
        w = word.lower() if word[:1].isupper() and word[1:].islower() else word
        splits = [(w[:i], w[i:]) for i in range(len(w) + 1)]
        edits = {a + b[1:] for a, b in splits if b}
        edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
        edits |= {a + c + b for a, b in splits for c in letters}
        edits.discard(w)
        found = []
        if self.language in HUNSPELL_NEAR and self.hunspell:
            found = [e for e in edits if any(d.lookup(e) for d in self.hunspell)]
        for e in edits:
            title = e[:1].upper() + e[1:]
            if e in self.words or title in self.words:
                # pyspellchecker's lists are lower-case: a capitalised word gets a
                # capitalised suggestion
                found.append(title if word[:1].isupper() or e not in self.words else e)
        return sorted(set(found), key=lambda c: (-self.speller[c.lower()], c))


def lexicon(language: str) -> Lexicon:
    """The lexicon of ``language`` (loaded once per process; Hunspell takes seconds)."""
    with _lock:
        return _lexicon(language)


@cache
def _lexicon(language: str) -> Lexicon:
    return Lexicon(language)
