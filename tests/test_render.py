"""The sandboxed renderer: placeholders, clear errors, escapes and budgets."""

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.render import (
    TemplateError,
    check_placeholders,
    render,
    render_html,
    undeclared_placeholders,
)

CTX = {
    "order_id": "305-1234567-7654321",
    "seller_name": "Nordlicht",
    "products": [{"title": "Lamp"}],
}


def test_renders_placeholders_and_loops():
    out = render("Order {{ order_id }}{% for p in products %} - {{ p.title }}{% endfor %}", CTX)
    assert out == "Order 305-1234567-7654321 - Lamp"


def test_html_autoescapes_but_text_does_not():
    assert render_html("<b>{{ x }}</b>", {"x": "<i>"}) == "<b>&lt;i&gt;</b>"
    assert render("{{ x }}", {"x": "<i>"}) == "<i>"


def test_misspelled_placeholder_names_it_line_and_suggestion():
    with pytest.raises(TemplateError) as exc:
        render("Hello\nOrder {{ order_idd }}", CTX)
    msg = str(exc.value)
    assert "'order_idd'" in msg and "line 2" in msg and "did you mean 'order_id'" in msg
    assert exc.value.lineno == 2


def test_check_placeholders_catches_misspelling_before_send():
    errors = check_placeholders("Hi {{ seler_name }} {{ order_id }}", ["order_id", "seller_name"])
    assert len(errors) == 1 and "seler_name" in errors[0] and "'seller_name'" in errors[0]
    assert check_placeholders("{{ order_id }}", ["order_id"]) == []
    assert undeclared_placeholders("{% set a = 1 %}{{ a }}{{ b }}{{ range(2)|list }}") == {"b"}


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ order_id.__class__ }}",
        "{{ range.__init__.__globals__ }}",
        "{{ products.__len__() }}",
        "{{ lipsum.__globals__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ products.append(1) }}",
        "{{ ''.format.__globals__ }}",
    ],
)
def test_sandbox_escapes_fail_with_template_error(source):
    with pytest.raises(TemplateError):
        render(source, CTX)


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in range(10**9) %}x{% endfor %}",
        "{{ 'x' * 10**9 }}",
        "{{ 10**9 * 'x' }}",
        "{{ 'x'|center(10**9) }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ 'x'.ljust(10**8) }}",
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        "{% set s = 'x' * 100000 %}{% set s = s~s~s~s~s~s~s~s~s~s~s~s %}{{ s|length }}",
        "{% macro f(s) %}{{ f(s ~ s) }}{% endmacro %}{{ f('x') }}",
        "{% macro f(s) %}{{ f(s + s) }}{% endmacro %}{{ f('x') }}",
        "{% set s = 'x' * 100000 %}{{ s.join([s] * 100000)|length }}",
        "{{ ('x' * 100000)|replace('x', 'x' * 100000)|length }}",
        "{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
        "{{ [1]|batch(10**9, 'x')|list }}",
    ],
)
def test_huge_loops_and_strings_fail_fast(source):
    started = time.monotonic()
    with pytest.raises(TemplateError):
        render(source, CTX)
    assert time.monotonic() - started < 2.0


def test_output_limit_and_timeout_are_enforced():
    with pytest.raises(TemplateError, match="longer than 10 characters"):
        render("{{ order_id }}", CTX, max_chars=10)
    with pytest.raises(TemplateError, match="took longer"):
        render(
            "{% for i in range(10000) %}{% for j in range(1000) %}{% endfor %}{% endfor %}",
            CTX,
            timeout_s=0.05,
        )


def test_syntax_error_has_line_number():
    with pytest.raises(TemplateError) as exc:
        render("line one\nline two\n{% if %}", CTX)
    assert exc.value.lineno == 3 and "line 3" in str(exc.value) and "syntax error" in str(exc.value)


def test_runtime_errors_become_template_errors():
    for source in ("{{ 1/0 }}", "{{ products[5].title }}", "{{ products[0].nope }}"):
        with pytest.raises(TemplateError):
            render(source, CTX)


def test_date_filter():
    assert render("{{ d|date('%d.%m.%Y') }}", {"d": "2026-11-20"}) == "20.11.2026"


TOKENS = list("{}%#()[]'\"|.~*+-_ abcx01\n") + [
    "{{", "}}", "{%", "%}", "for ", " in ", "range(", "order_id", "__class__", "if ",
    "endfor", "endif", "**", "9", "products", "|join", "set ", "=", "macro ",
]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join) | st.text(max_size=80))
def test_fuzz_render_raises_only_template_error(source):
    try:
        out = render(source, CTX, timeout_s=0.5)
    except TemplateError as exc:
        assert str(exc)
    else:
        assert isinstance(out, str) and len(out) <= 20000
