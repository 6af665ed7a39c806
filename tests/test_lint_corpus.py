"""The linter on the project's labelled corpus (tests/lint_corpus/): recall and false
positives per language must meet the targets bench/lint_corpus.py prints."""

import pytest

from bench.lint_corpus import (
    CORPUS,
    TARGET_FALSE_POSITIVES,
    TARGET_RECALL,
    evaluate,
    load,
)
from core.compliance import RULE_IDS
from core.compliance.dictionaries import missing

LANGUAGES = ("en", "de", "fr", "it", "es", "ja")


@pytest.fixture(scope="module")
def samples():
    return load(CORPUS)


@pytest.fixture(scope="module")
def result(samples):
    return evaluate(samples)


def test_corpus_size_languages_and_labels(samples):
    assert len(samples) >= 300
    for language in LANGUAGES:
        mine = [s for s in samples if s.language == language]
        assert len(mine) >= 30, language
        assert sum(1 for s in mine if not s.labels) >= 15, language
    labels = {r for s in samples for r in s.labels}
    assert labels <= set(RULE_IDS), labels - set(RULE_IDS)
    # every rule a message can break is in the corpus (FU-INTERNAL is the linter's own)
    assert set(RULE_IDS) - labels == {"FU-INTERNAL"}


def test_marketplace_dictionaries_are_installed():
    assert missing() == [], "run scripts/ensure-dictionaries (make test does)"


@pytest.mark.parametrize("language", LANGUAGES)
def test_recall_and_false_positives_per_language(result, language):
    tally = result.languages[language]
    missed = [m for m in result.missed if m[0].startswith(language + "#")]
    false = [f for f in result.false_positives if f[0].startswith(language + "#")]
    assert tally.caught / tally.labelled >= TARGET_RECALL, missed
    assert tally.false_positives / tally.compliant <= TARGET_FALSE_POSITIVES, false


def test_overall_targets(result):
    assert result.overall.caught / result.overall.labelled >= TARGET_RECALL, result.missed
    assert result.overall.false_positives / result.overall.compliant <= TARGET_FALSE_POSITIVES, (
        result.false_positives
    )
