"""Rendering sellers' templates in Jinja2's immutable sandbox, with budgets.

User-edited templates can never reach Python internals (``ImmutableSandboxedEnvironment``),
never render a missing placeholder as empty text (``StrictUndefined``), and can neither
hang the worker nor build a huge string:

- the limits inside filters, calls, operators, loops and macros (sizes checked before
  a value is built, a per-render allocation budget, a clock) are ``core.sandbox``'s;
- the output is streamed through ``generate()`` and counted (``max_chars``).

Only ``TemplateError`` ever leaves ``render()``/``render_html()``.
"""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import TemplateSyntaxError, meta
from jinja2.exceptions import SecurityError, UndefinedError

from .sandbox import BUDGET, Budget, Limit, make_env, tick

log = logging.getLogger(__name__)


class TemplateError(Exception):
    """A template problem a seller can fix; ``lineno`` when Jinja2 knows it."""

    def __init__(self, message: str, lineno: int | None = None, hint: str = ""):
        where = "" if lineno is None else f" on line {lineno}"
        super().__init__(f"{message}{where}{hint}")
        self.message = message
        self.lineno = lineno
        self.hint = hint


_TEXT = make_env(False)
_HTML = make_env(True)


def _syntax_error(exc: TemplateSyntaxError) -> TemplateError:
    return TemplateError(f"syntax error: {exc.message}", exc.lineno)


@lru_cache(maxsize=512)
def _compile(autoescape: bool, source: str):
    """Compiled templates by source: the same template version renders thousands of times."""
    env = _HTML if autoescape else _TEXT
    token = BUDGET.set(Budget(5.0))
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None
    except (RecursionError, MemoryError):
        raise TemplateError("the template is too deeply nested") from None
    finally:
        BUDGET.reset(token)


def _template_line(exc: BaseException) -> int | None:
    """The template line an exception was raised on (Jinja2 rewrites tracebacks)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _undefined_error(exc: UndefinedError, context: Mapping[str, Any]) -> TemplateError:
    text = str(exc.message or "")
    line = _template_line(exc)
    match = re.match(r"'([^']+)' is undefined", text)
    if match:
        name = match.group(1)
        return TemplateError(f"unknown placeholder {name!r}", line, _suggest(name, context))
    match = re.match(r".* has no attribute '([^']+)'", text)
    if match:
        return TemplateError(f"unknown field {match.group(1)!r} ({text})", line)
    return TemplateError(f"unknown placeholder: {text}", line)


def _render(autoescape: bool, source: str, context: Mapping[str, Any], max_chars, timeout_s):
    try:
        template = _compile(autoescape, str(source))
        data = dict(context)
    except TemplateError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bad source or context is the caller's error
        raise TemplateError(f"cannot read the template: {type(exc).__name__}") from None
    token = BUDGET.set(Budget(timeout_s))
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(**data):
            size += len(chunk)
            if size > max_chars:
                raise Limit(f"the text would be longer than {max_chars} characters")
            tick()
            out.append(chunk)
    except Limit as exc:
        raise TemplateError(str(exc), _template_line(exc)) from None
    except UndefinedError as exc:
        raise _undefined_error(exc, data) from None
    except SecurityError as exc:
        raise TemplateError(f"not allowed in a template: {exc}", _template_line(exc)) from None
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None
    except RecursionError:
        raise TemplateError("the template calls itself too deeply") from None
    except MemoryError:
        raise TemplateError("the template needs too much memory") from None
    except Exception as exc:  # noqa: BLE001 - any template bug becomes a seller-facing error
        raise TemplateError(f"{type(exc).__name__}: {exc}"[:300], _template_line(exc)) from None
    finally:
        BUDGET.reset(token)
    return "".join(out)


def _suggest(name: str, available: Iterable[str]) -> str:
    names = sorted(str(n) for n in available)
    close = difflib.get_close_matches(name, names, n=1)
    if close:
        return f" — did you mean {close[0]!r}?"
    return f" — available: {', '.join(names)}" if names else ""


def render(
    source: str, context: Mapping[str, Any], *, max_chars: int = 20000, timeout_s: float = 1.0
) -> str:
    """Render a plain-text template (no autoescape). Raises only ``TemplateError``."""
    return _render(False, source, context, max_chars, timeout_s)


def render_html(
    source: str, context: Mapping[str, Any], *, max_chars: int = 100000, timeout_s: float = 1.0
) -> str:
    """Render an HTML template with autoescaping. Raises only ``TemplateError``."""
    return _render(True, source, context, max_chars, timeout_s)


def undeclared_placeholders(source: str) -> set[str]:
    """Top-level names the template reads from its context (``TemplateError`` on bad syntax)."""
    try:
        tree = _TEXT.parse(source)
        # Finding the names compiles the tree, which is where an unknown filter is found.
        names = meta.find_undeclared_variables(tree)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None
    except (RecursionError, MemoryError):
        raise TemplateError("the template is too deeply nested") from None
    return names - set(_TEXT.globals)


def _line_of(source: str, name: str) -> int | None:
    match = re.search(r"\b" + re.escape(name) + r"\b", source)
    return source.count("\n", 0, match.start()) + 1 if match else None


def check_placeholders(source: str, available: Iterable[str]) -> list[str]:
    """Errors for placeholders the template uses that do not exist (save/preview time)."""
    known = set(available)
    try:
        used = undeclared_placeholders(source)
    except TemplateError as exc:
        return [str(exc)]
    return [
        str(
            TemplateError(
                f"unknown placeholder {name!r}", _line_of(source, name), _suggest(name, known)
            )
        )
        for name in sorted(used - known)
    ]
