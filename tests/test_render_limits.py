"""The sandbox's hard limits hold inside filters, loops and macros, not only on the
output: time stays within the render's budget and memory within a bound (tracemalloc),
for the attacks an outside probe found and for random nests of filters and loops."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.render import TemplateError, render, render_html
from tests.support.figures import record

BUDGET_S = 0.2
# Slack over the budget for the one operation in flight when the clock runs out (each is
# bounded by the one-value limits) on a busy two-core CI machine.
SLACK_S = 0.2
MEMORY_BOUND = 48 * 1024 * 1024  # bytes; a render before the limits peaked at 2.1 GB


def _outcome(source: str, html: bool):
    try:
        return (render_html if html else render)(source, {"x": "x"}, timeout_s=BUDGET_S)
    except TemplateError as exc:
        return exc


def measured(source: str, html: bool = False):
    """(seconds, peak bytes, outcome) of one render: timed on its own (tracemalloc slows
    Python down several times), then again under tracemalloc for its peak memory.

    The seconds are this thread's CPU time: the work a render may do is what the budget
    bounds, and on a loaded machine wall time also counts the time other processes ran
    (the sandbox's own deadline is wall time, so it only ever stops earlier)."""
    started = time.thread_time()
    outcome = _outcome(source, html)
    elapsed = time.thread_time() - started
    tracemalloc.start()
    try:
        _outcome(source, html)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return elapsed, peak, outcome


ATTACKS = [
    # each of these built ~100x the old one-value limit before it was checked
    "{{ ('x\\n' * 400000)|indent(200) }}",
    "{{ ('x\\n' * 150000)|indent(200) }}",
    "{{ (['x']*100)|map('center', 900000)|join|length }}",
    "{{ (['x']*100)|map('center', 150000)|join|length }}",
    "{{ ('x ' * 400000)|wordwrap(1, wrapstring='y'*100) }}",
    "{{ ('x ' * 70000)|wordwrap(1, wrapstring='y'*100) }}",
    "{% set s = 'x'*150000 %}{{ ([s]*100)|string|length }}",
    "{% set s = 'x'*150000 %}{{ ([s]*100)|upper|length }}",
    "{% set s = 'x'*150000 %}{{ [s]*100 }}",
    "{% set s = 'x'*150000 %}{% macro m() %}{% for i in range(100) %}{{ s }}{% endfor %}"
    "{% endmacro %}{{ m()|length }}",
    "{% set t %}{% for i in range(10000) %}" + "y" * 1000 + "{% endfor %}{% endset %}"
    "{{ t|length }}",
    "{% set s = 'x'*150000 %}{{ '%s' * 10 % ([s] * 10)|list }}",
    "{{ ([[1]*1000]*1000)|sum(start=[])|length }}",
    "{% set s = 'x'*150000 %}{{ '{}{}{}{}{}{}{}{}'.format(s,s,s,s,s,s,s,s)|length }}",
    "{{ ('x' * 150000)|replace('x', 'yy')|replace('y', 'zz')|length }}",
    # a text's characters as items: sorted whole before the result was counted
    "{{ ('x' * 150000)|indent(200)|sort }}",
    "{% for i in range(1000) %}{{ ('x' * 150000)|unique|list|length }}{% endfor %}",
]


@pytest.mark.parametrize("source", ATTACKS)
@pytest.mark.parametrize("html", [False, True])
def test_filters_and_loops_cannot_exceed_time_or_memory(source, html):
    elapsed, peak, outcome = measured(source, html)
    assert isinstance(outcome, TemplateError), outcome[:80]
    assert elapsed <= BUDGET_S + SLACK_S, f"{elapsed:.2f} s"
    assert peak < MEMORY_BOUND, f"{peak / 1e6:.0f} MB"


def test_a_refusal_says_what_is_too_large():
    _, _, outcome = measured("{{ ('x\\n' * 90000)|indent(200) }}")
    assert "indented text would be too large" in str(outcome)
    _, _, outcome = measured("{{ (['x']*100)|map('center', 150000)|join|length }}")
    assert "builds more than" in str(outcome)


def test_a_long_text_is_not_sorted_character_by_character():
    # sort/unique/list made a list of every character (20 MB for 150,000) before the
    # result was counted; now the text's length is checked first
    elapsed, peak, outcome = measured("{{ ('x' * 150000)|sort|length }}")
    assert "into a list (the limit is 10000 items)" in str(outcome)
    assert peak < 2_000_000, f"{peak / 1e6:.1f} MB"
    assert render("{{ 'cab'|sort|join }} {{ 'aab'|unique|list|length }}", {}) == "abc 2"


def test_ordinary_templates_still_render():
    source = (
        "{% for p in range(3) %}{{ ('item ' ~ p)|center(20)|trim }}, {% endfor %}"
        "{{ 'a b c'|wordwrap(2) }} {{ [1, 2, 3]|sum }} {{ 'x'|indent(2, true) }}"
        "{{ ['a', 'b']|map('upper')|join('-') }} {{ '%s!' % x }} {{ '{}'.format(x) }}"
    )
    out = render(source, {"x": "hi"})
    assert out.startswith("item 0, item 1, item 2, a\nb\nc 6   x")
    assert out.endswith("A-B hi! hi")


FILTERS = [
    "indent(200)", "indent(9999, true)", "center(150000)", "wordwrap(1)",
    "wordwrap(2, wrapstring='~~~~~~~~~~')", "join", "join('-----')", "string", "upper",
    "e", "list", "replace('x', 'xxxxxxxxxx')", "replace('', '--')", "format(x)", "urlencode",
    "map('center', 100000)|list", "map('string')|join", "batch(1000, 'x')|list", "sort",
    "unique|list", "reverse", "trim", "truncate(100000, end='x'*50000)", "title", "sum",
    "dictsort", "first", "length", "select|list", "striptags", "wordcount",
]  # fmt: skip
SEEDS = [
    "'x' * 150000", "'x\\n' * 60000", "['x' * 150000] * 10", "range(10000)",
    "range(10000)|list", "'ab ' * 60000", "[x] * 9000", "'<&>' * 50000",
]  # fmt: skip


@st.composite
def nests(draw):
    """A value piped through several filters, inside nested loops and maybe a macro."""
    chain = "|".join(draw(st.lists(st.sampled_from(FILTERS), min_size=1, max_size=4)))
    expr = f"({draw(st.sampled_from(SEEDS))})|{chain}"
    body = f"{{{{ {expr} }}}}"
    for _ in range(draw(st.integers(0, 2))):
        n = draw(st.sampled_from([10, 1000, 10000]))
        body = f"{{% for i in range({n}) %}}{body}{{% endfor %}}"
    if draw(st.booleans()):
        body = f"{{% macro m() %}}{body}{{% endmacro %}}{{{{ m()|length }}}}{{{{ m()|length }}}}"
    return body


WORST = {"seconds": 0.0, "bytes": 0, "slowest": ""}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(nests(), st.booleans())
def fuzz_one(source, html):
    elapsed, peak, outcome = measured(source, html)
    if elapsed > WORST["seconds"]:
        WORST["seconds"], WORST["slowest"] = elapsed, source
    WORST["bytes"] = max(WORST["bytes"], peak)
    assert elapsed <= BUDGET_S + SLACK_S, f"{elapsed:.2f} s for {source[:120]}"
    assert peak < MEMORY_BOUND, f"{peak / 1e6:.0f} MB for {source[:120]}"
    if not isinstance(outcome, TemplateError):
        assert len(outcome) <= 100000


def test_fuzz_nested_filters_and_loops_stay_within_budgets():
    fuzz_one()
    record(
        "render limits fuzz",
        f"slowest {WORST['seconds']:.3f} s (budget {BUDGET_S} s), "
        f"peak {WORST['bytes'] / 1e6:.1f} MB (bound {MEMORY_BOUND / 1e6:.0f} MB); "
        f"slowest: {WORST['slowest'][:100]!r}",
    )
