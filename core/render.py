"""Rendering sellers' templates in Jinja2's immutable sandbox, with budgets.

User-edited templates can never reach Python internals (``ImmutableSandboxedEnvironment``),
never render a missing placeholder as empty text (``StrictUndefined``), and can neither
hang the worker nor build a huge string:

- operators that build big values fast (``*``, ``**``, ``%``, ``+``, ``~``) and calls
  (``range``, string methods, filters) are checked *before* they allocate;
- every call, operator and loop iteration ticks a per-render clock (``timeout_s``);
- the output is streamed through ``generate()`` and counted (``max_chars``).

Only ``TemplateError`` ever leaves ``render()``/``render_html()``.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import difflib
import logging
import re
import time
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, UndefinedError
from jinja2.filters import FILTERS
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context, pass_eval_context

log = logging.getLogger(__name__)

MAX_RANGE = 100_000  # items a range() may have
MAX_VALUE = 1_000_000  # characters/items any intermediate value may have
MAX_EXPONENT = 1_000


class TemplateError(Exception):
    """A template problem a seller can fix; ``lineno`` when Jinja2 knows it."""

    def __init__(self, message: str, lineno: int | None = None, hint: str = ""):
        where = "" if lineno is None else f" on line {lineno}"
        super().__init__(f"{message}{where}{hint}")
        self.message = message
        self.lineno = lineno
        self.hint = hint


class _Budget:
    __slots__ = ("deadline", "timeout_s")

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s


class _Limit(Exception):
    """Raised inside rendering when a budget is exceeded; becomes a TemplateError."""


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("budget", default=None)


def _tick() -> None:
    budget = _BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise _Limit(f"the template took longer than {budget.timeout_s:g} s to render")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple | dict) else 0


def _check_size(value: Any) -> Any:
    if _size(value) > MAX_VALUE:
        raise _Limit(f"a value in the template would be longer than {MAX_VALUE} characters")
    return value


_WIDE_FORMAT = re.compile(r"%[^a-zA-Z%]*?(?:\*|\d{5,})|\{[^{}]*?\d{5,}[^{}]*\}")


def _check_format(fmt: Any) -> None:
    if isinstance(fmt, str) and _WIDE_FORMAT.search(fmt):
        raise _Limit("a format width in the template is too large")


def _check_args(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_VALUE:
            raise _Limit(f"the number {arg} is too large for this operation")


def _join_estimate(items: Any, sep: str = "") -> int:
    if not isinstance(items, list | tuple):
        return 0
    return sum(len(str(x)) for x in items) + len(sep) * len(items)


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus size and time checks on everything that can grow."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})

    def call_binop(self, context, operator, left, right):
        _tick()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if _size(seq) and isinstance(n, int) and _size(seq) * n > MAX_VALUE:
                    raise _Limit("a repeated text or list would be too large")
        elif operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise _Limit("an exponent in the template is too large")
            if isinstance(left, int) and isinstance(right, int):
                if abs(left).bit_length() * max(right, 0) > 100_000:
                    raise _Limit("a power in the template is too large")
        elif operator == "%":
            _check_format(left)
        elif operator == "+" and _size(left) + _size(right) > MAX_VALUE:
            raise _Limit("a joined text or list would be too large")
        return _check_size(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - jinja2's signature
        _tick()
        # str.format comes wrapped by the sandbox; look through the wrapper for its string
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            _check_args(list(args) + list(kwargs.values()))
            if name in ("format", "format_map"):
                _check_format(owner)
            elif name == "join" and args:
                items = list(args[0]) if isinstance(args[0], str) else args[0]
                if _join_estimate(items, owner) > MAX_VALUE:
                    raise _Limit("a joined text would be too large")
            elif name == "replace" and len(args) >= 2 and isinstance(args[1], str):
                grows = owner.count(str(args[0])) * len(args[1]) if args[0] else len(owner)
                if len(owner) + grows > MAX_VALUE:
                    raise _Limit("a replaced text would be too large")
            elif name == "expandtabs" and owner.count("\t") * (args[0] if args else 8) > MAX_VALUE:
                raise _Limit("an expanded text would be too large")
        return _check_size(super().call(__context, __obj, *args, **kwargs))

    def _parse(self, source, name, filename):
        """Parse, then route loops and ``~`` through budget-checked helpers."""
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_fu_ticking", [], [], None, None)
        _replace_concat(tree)
        return tree


def _replace_concat(node: nodes.Node) -> None:
    for field, value in node.iter_fields():
        if isinstance(value, nodes.Concat):
            setattr(node, field, _checked_concat(value))
        elif isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, nodes.Concat):
                    value[i] = _checked_concat(item)
        for child in value if isinstance(value, list) else [value]:
            if isinstance(child, nodes.Node):
                _replace_concat(child)


def _checked_concat(node: nodes.Concat) -> nodes.Filter:
    return nodes.Filter(
        nodes.List(node.nodes), "_fu_concat", [], [], None, None, lineno=node.lineno
    )


@pass_context
def _ticking(_context, iterable):
    for item in iterable:
        _tick()
        yield item


@pass_eval_context
def _concat(eval_ctx, items):
    if _join_estimate(items) > MAX_VALUE:
        raise _Limit("a joined text would be too large")
    return markup_join(items) if eval_ctx.autoescape else str_join(items)


def _safe_range(*args):
    _check_args(args)
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise _Limit(f"range() is limited to {MAX_RANGE} items")
    return r


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    """``{{ delivery_date|date("%d.%m.%Y") }}``: format a date or datetime (or ISO string)."""
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    if not isinstance(value, _dt.date):
        raise TypeError("the date filter needs a date")
    _check_format(fmt)
    return value.strftime(fmt)


_SAFE_FILTERS = (
    "abs capitalize count d default e escape first float forceescape format int items join "
    "last length list lower map max min reject rejectattr replace reverse round select "
    "selectattr sort string striptags sum title trim truncate unique upper wordcount "
    "center indent wordwrap batch dictsort groupby urlencode filesizeformat"
).split()


def _guard_filter(name: str, func):
    """A filter that checks its arguments before it runs and its result after."""

    def guarded(*args, **kwargs):
        _tick()
        values = list(args) + list(kwargs.values())
        _check_args(values)
        if name == "format":
            _check_format(next((v for v in args if isinstance(v, str)), None))
        if name == "join":
            for value in values:
                if isinstance(value, list | tuple) and _join_estimate(value) > MAX_VALUE:
                    raise _Limit("a joined text would be too large")
        if name == "replace":
            strs = [str(v) for v in values if isinstance(v, str)]
            if len(strs) >= 3:
                text, old, new = strs[:3]
                grows = (text.count(old) if old else len(text) + 1) * len(new)
                if len(text) + grows > MAX_VALUE:
                    raise _Limit("a replaced text would be too large")
        return _check_size(func(*args, **kwargs))

    for attr in ("jinja_pass_arg",):
        if hasattr(func, attr):
            setattr(guarded, attr, getattr(func, attr))
    guarded.__name__ = getattr(func, "__name__", name)
    return guarded


def _env(autoescape: bool) -> _Sandbox:
    env = _Sandbox(
        undefined=StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals = {"range": _safe_range}
    env.filters = {name: _guard_filter(name, FILTERS[name]) for name in _SAFE_FILTERS}
    env.filters["date"] = _guard_filter("date", _date)
    env.filters["_fu_ticking"] = _ticking
    env.filters["_fu_concat"] = _concat
    return env


_TEXT = _env(False)
_HTML = _env(True)


def _syntax_error(exc: TemplateSyntaxError) -> TemplateError:
    return TemplateError(f"syntax error: {exc.message}", exc.lineno)


@lru_cache(maxsize=512)
def _compile(autoescape: bool, source: str):
    """Compiled templates by source: the same template version renders thousands of times."""
    env = _HTML if autoescape else _TEXT
    token = _BUDGET.set(_Budget(5.0))
    try:
        return env.from_string(source)
    except TemplateSyntaxError as exc:
        raise _syntax_error(exc) from None
    except (RecursionError, MemoryError):
        raise TemplateError("the template is too deeply nested") from None
    finally:
        _BUDGET.reset(token)


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
    token = _BUDGET.set(_Budget(timeout_s))
    out: list[str] = []
    size = 0
    try:
        for chunk in template.generate(**data):
            size += len(chunk)
            if size > max_chars:
                raise _Limit(f"the text would be longer than {max_chars} characters")
            _tick()
            out.append(chunk)
    except _Limit as exc:
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
        _BUDGET.reset(token)
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
