"""The compliance linter measured on the project's labelled corpus (tests/lint_corpus/).

Each message of the corpus is labelled compliant or with the rule ids it violates. A
violation counts as caught when the linter reports its rule id (as an error or as a
warning); a compliant message counts as a false positive when the linter reports anything
at all on it, warnings included. Prints recall and false-positive rate overall, per
language and per rule (targets: recall >= 0.97, false positives <= 3 %).
``BENCH_LINT_CORPUS`` points at another folder of corpus files (e.g. a held-out corpus).
"""

from __future__ import annotations

import os
import time
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from core.compliance import LintInput, lint

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "lint_corpus"
# The order id every ``{oid}`` of the corpus stands for.
ORDER_ID = "302-4417309-8816254"
TARGET_RECALL = 0.97
TARGET_FALSE_POSITIVES = 0.03


@dataclass(frozen=True)
class Sample:
    language: str
    index: int
    labels: frozenset[str]
    inp: LintInput

    @property
    def name(self) -> str:
        return f"{self.language}#{self.index}"


def load(folder: Path | str = CORPUS) -> list[Sample]:
    """Every message of every ``*.toml`` file in ``folder``, as linter input."""
    samples = []
    for path in sorted(Path(folder).glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        language = data["language"]
        for i, m in enumerate(data["messages"], 1):
            unknown = set(m) - {
                "labels",
                "text",
                "type",
                "channel",
                "html",
                "subject",
                "seq_review",
                "allowed_links",
                "allowed_words",
            }
            if unknown:
                raise ValueError(f"{path.name} message {i}: unknown keys {sorted(unknown)}")

            def fill(s: str) -> str:
                return s.replace("{oid}", ORDER_ID)

            inp = LintInput(
                text=fill(m["text"]),
                channel=m.get("channel", "messaging"),
                message_type=m.get("type", ""),
                html=fill(m.get("html", "")),
                subject=fill(m.get("subject", "")),
                language=language,
                order_id=ORDER_ID,
                allowed_links=tuple(m.get("allowed_links", ())),
                sequence_has_review_request=m.get("seq_review", False),
                allowed_words=tuple(m.get("allowed_words", ())),
            )
            samples.append(Sample(language, i, frozenset(m["labels"]), inp))
    return samples


@dataclass
class Tally:
    labelled: int = 0
    caught: int = 0
    blocked: int = 0
    compliant: int = 0
    false_positives: int = 0

    def figures(self) -> dict:
        out = {}
        if self.labelled:
            out["recall"] = round(self.caught / self.labelled, 3)
            out["blocking_recall"] = round(self.blocked / self.labelled, 3)
            out["violations"] = self.labelled
        if self.compliant:
            out["false_positive_rate"] = round(self.false_positives / self.compliant, 3)
            out["compliant"] = self.compliant
        return out


@dataclass
class Result:
    overall: Tally
    languages: dict[str, Tally]
    rules: dict[str, Tally]
    missed: list[tuple[str, str]]
    false_positives: list[tuple[str, str]]


def evaluate(samples: list[Sample]) -> Result:
    """Recall per (message, labelled rule) and false positives per compliant message.

    Per rule, a false positive is the rule firing on a message not labelled with it."""
    overall, languages, rules = Tally(), defaultdict(Tally), defaultdict(Tally)
    missed, false = [], []
    for s in samples:
        findings = lint(s.inp)
        found = {f.rule_id for f in findings}
        errors = {f.rule_id for f in findings if f.severity == "error"}
        lang = languages[s.language]
        for rule in s.labels:
            hit = rule in found
            for t in (overall, lang, rules[rule]):
                t.labelled += 1
                t.caught += hit
                t.blocked += rule in errors
            if not hit:
                missed.append((s.name, rule))
        for rule in found - s.labels:
            rules[rule].false_positives += 1
        if not s.labels:
            for t in (overall, lang):
                t.compliant += 1
                t.false_positives += bool(found)
            if found:
                false.append((s.name, ",".join(sorted(found))))
    for rule, t in rules.items():
        t.compliant = sum(1 for s in samples if rule not in s.labels)
    return Result(overall, dict(languages), dict(rules), missed, false)


def run() -> dict:
    folder = os.environ.get("BENCH_LINT_CORPUS", CORPUS)
    samples = load(folder)
    start = time.perf_counter()
    result = evaluate(samples)
    seconds = time.perf_counter() - start
    return {
        "messages": len(samples),
        **result.overall.figures(),
        "target_recall": TARGET_RECALL,
        "target_false_positive_rate": TARGET_FALSE_POSITIVES,
        "per_language": {k: v.figures() for k, v in sorted(result.languages.items())},
        "per_rule": {k: v.figures() for k, v in sorted(result.rules.items())},
        "missed": [f"{name} {rule}" for name, rule in result.missed],
        "false_positives": [f"{name} {rules}" for name, rules in result.false_positives],
        "ms_per_message": round(1000 * seconds / max(1, len(samples)), 2),
    }
