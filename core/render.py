"""Rendering sellers' templates in Jinja2's immutable sandbox, with budgets.

User-edited templates can never reach Python internals (SandboxedEnvironment), never
render a missing placeholder as empty text (StrictUndefined), and can neither hang the
worker nor build a huge string (a time and an output-size budget while rendering).
"""

from __future__ import annotations

import difflib
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RANGE = 10_000
MAX_REPEAT = 100_000


class TemplateError(Exception):
    """A template problem a seller can fix; ``lineno`` when Jinja2 knows it."""

    def __init__(self, message: str, lineno: int | None = None):
        super().__init__(message if lineno is None else f"{message} (line {lineno})")
        self.message = message
        self.lineno = lineno


class _Budgeted(ImmutableSandboxedEnvironment):
    """The sandbox, plus limits on the operations that build big things fast."""

    def call_binop(self, context, operator, left, right):
        if operator == "*" and isinstance(left, str | list) and isinstance(right, int):
            if len(left) * right > MAX_REPEAT:
                raise SecurityError("a repeated string or list would be too large")
        if operator == "*" and isinstance(right, str | list) and isinstance(left, int):
            if len(right) * left > MAX_REPEAT:
                raise SecurityError("a repeated string or list would be too large")
        if operator == "**" and isinstance(right, int) and right > 100:
            raise SecurityError("exponent too large")
        return super().call_binop(context, operator, left, right)


def _safe_range(*args):
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise SecurityError(f"range() is limited to {MAX_RANGE} items")
    return r


def _env(autoescape: bool) -> ImmutableSandboxedEnvironment:
    env = _Budgeted(
        undefined=StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals = {"range": _safe_range}
    return env


_TEXT = _env(False)
_HTML = _env(True)


@lru_cache(maxsize=512)
def _compile(autoescape: bool, source: str):
    """Compiled templates by source: the same template version renders thousands of times."""
    env = _HTML if autoescape else _TEXT
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"syntax error: {exc.message}", exc.lineno) from None


def _render(env, source: str, context: Mapping[str, Any], max_chars: int, timeout_s: float) -> str:
    template = _compile(env is _HTML, source)
    deadline = time.monotonic() + timeout_s
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(**dict(context)):
            size += len(chunk)
            if size > max_chars:
                raise TemplateError(f"the text would be longer than {max_chars} characters")
            if time.monotonic() > deadline:
                raise TemplateError(f"the template took longer than {timeout_s:g} s to render")
            out.append(chunk)
    except TemplateError:
        raise
    except UndefinedError as exc:
        name = str(exc.message or "").split("'")[1] if "'" in str(exc.message) else ""
        hint = _suggest(name, context) if name else ""
        raise TemplateError(f"unknown placeholder: {exc.message}{hint}") from None
    except SecurityError as exc:
        raise TemplateError(f"not allowed in a template: {exc}") from None
    except RecursionError:
        raise TemplateError("the template recurses too deeply") from None
    except Exception as exc:  # noqa: BLE001 - any template bug becomes a seller-facing error
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None
    return "".join(out)


def _suggest(name: str, available: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(available), n=1)
    return f" — did you mean {close[0]!r}?" if close else ""


def render(
    source: str, context: Mapping[str, Any], *, max_chars: int = 20000, timeout_s: float = 1.0
) -> str:
    """Render a plain-text template (no autoescape). Raises only ``TemplateError``."""
    return _render(_TEXT, source, context, max_chars, timeout_s)


def render_html(
    source: str, context: Mapping[str, Any], *, max_chars: int = 100000, timeout_s: float = 1.0
) -> str:
    """Render an HTML template with autoescaping. Raises only ``TemplateError``."""
    return _render(_HTML, source, context, max_chars, timeout_s)


def undeclared_placeholders(source: str) -> set[str]:
    try:
        return meta.find_undeclared_variables(_TEXT.parse(source)) - set(_TEXT.globals)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"syntax error: {exc.message}", exc.lineno) from None


def check_placeholders(source: str, available: Iterable[str]) -> list[str]:
    """Errors for placeholders the template uses that do not exist (save/preview time)."""
    known = set(available)
    try:
        used = undeclared_placeholders(source)
    except TemplateError as exc:
        return [str(exc)]
    return [f"unknown placeholder {name!r}{_suggest(name, known)}" for name in sorted(used - known)]
