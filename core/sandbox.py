"""The Jinja2 sandbox sellers' templates render in, with hard size and time limits.

Limits hold inside filters, loops and macros, not only on the final output, because a
value can grow a hundredfold in one filter call before anything downstream sees it:

- every filter, method call and operator that can grow a value is checked *before* it
  allocates (``indent``, ``wordwrap``, ``join``, ``replace``, ``format``, ``*``, ``%``,
  ``range``, ``str.join``/``format``/``replace``…) and refused past ``MAX_VALUE``;
- anything turned into text (``{{ }}``, ``~``, ``|string``, ``|upper``…) is measured
  first, so a list of a thousand references to one long string is refused, not printed;
- every value a filter, call, operator, macro or output expression makes is counted
  against a per-render allocation budget (``MAX_ALLOC``), so a loop or ``map`` that
  makes many medium values stops early;
- every call, operator and loop iteration ticks a per-render clock (``timeout_s``).

Raises ``Limit``; ``core.render`` turns it into the seller-facing ``TemplateError``.
"""

from __future__ import annotations

import contextvars
import datetime as _dt
import re
import time
from collections.abc import Iterable
from typing import Any

from jinja2 import StrictUndefined, nodes
from jinja2.filters import FILTERS
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context, pass_eval_context
from markupsafe import Markup

MAX_RANGE = 10_000  # items a range() may have
MAX_ITEMS = 10_000  # items any one list, tuple or dict may have (sorting it stays quick)
MAX_VALUE = 200_000  # characters any one text may have
MAX_ALLOC = 2_000_000  # characters/items all values made during one render may add up to
MAX_EXPONENT = 1_000
MAX_INT_BITS = 100_000


class Limit(Exception):
    """Raised inside rendering when a budget is exceeded; becomes a TemplateError."""


class Budget:
    """One render's clock and allocation count."""

    __slots__ = ("allocated", "deadline", "timeout_s")

    def __init__(self, timeout_s: float):
        self.timeout_s = timeout_s
        self.deadline = time.monotonic() + timeout_s
        self.allocated = 0


BUDGET: contextvars.ContextVar[Budget | None] = contextvars.ContextVar("budget", default=None)


def tick() -> None:
    """Stop the render once its time budget is spent."""
    budget = BUDGET.get()
    if budget is not None and time.monotonic() > budget.deadline:
        raise Limit(f"the template took longer than {budget.timeout_s:g} s to render")


def _size(value: Any) -> int:
    """Characters of a text, or items of a collection times the text limit's share."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, list | tuple | dict):
        return len(value) * (MAX_VALUE // MAX_ITEMS)
    return 0


def text_size(value: Any, limit: int = MAX_VALUE) -> int:
    """About how long ``str(value)`` would be, counted without building it.

    Stops counting once past ``limit``, so a deeply nested list costs at most ``limit``
    steps."""
    kind = type(value)
    if kind is str or kind is Markup:
        return len(value) + 2
    if kind is int or kind is float or value is None:
        return 24
    total = 0
    stack = [value]
    pop, extend = stack.pop, stack.extend
    while stack:
        item = pop()
        kind = type(item)
        if kind is str or kind is Markup or kind is bytes:
            total += len(item) + 2
        elif kind is int:
            total += item.bit_length() // 3 + 2
        elif kind is list or kind is tuple or kind is set or kind is frozenset:
            extend(item)
            total += 2
        elif kind is dict:
            extend(item.keys())
            extend(item.values())
            total += 2
        elif isinstance(item, str | bytes):
            total += len(item) + 2
        else:
            total += 8
        if total > limit:
            return total
    return total


def made(value: Any) -> Any:
    """Count a value the template made against the one-value and per-render limits."""
    size = _size(value)
    if size > MAX_VALUE:
        raise Limit(
            f"a text or list in the template would be too large "
            f"(the limits are {MAX_VALUE} characters and {MAX_ITEMS} items)"
        )
    budget = BUDGET.get()
    if budget is not None and size:
        budget.allocated += size
        if budget.allocated > MAX_ALLOC:
            raise Limit(
                f"the template builds more than {MAX_ALLOC} characters of text while rendering"
            )
    return value


def _check_text(value: Any, what: str = "a value") -> int:
    size = text_size(value)
    if size > MAX_VALUE:
        raise Limit(f"{what} in the template would be longer than {MAX_VALUE} characters as text")
    return size


_WIDE_FORMAT = re.compile(r"%[^a-zA-Z%]*?(?:\*|\d{5,})|\{[^{}]*?\d{5,}[^{}]*\}")


def _check_format(fmt: Any, args: Any = ()) -> None:
    if isinstance(fmt, str):
        if _WIDE_FORMAT.search(fmt):
            raise Limit("a format width in the template is too large")
        if len(fmt) + text_size(args) > MAX_VALUE:
            raise Limit(f"a formatted text would be longer than {MAX_VALUE} characters")


def _check_args(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and abs(arg) > MAX_VALUE:
            raise Limit(f"the number {arg} is too large for this operation")


def _join_estimate(items: Any, sep: Any = "") -> int:
    if not isinstance(items, list | tuple):
        return 0
    return text_size(items, MAX_VALUE) + len(str(sep)) * len(items)


def _checked_join(parts: Iterable[str]) -> str:
    """``environment.concat``: joins the buffers of macros, ``{% set %}`` and
    ``{% filter %}`` blocks, which never pass through the output check."""
    parts = list(parts)
    if sum(len(p) for p in parts) > MAX_VALUE:
        raise Limit(f"a block of the template would be longer than {MAX_VALUE} characters")
    return made("".join(parts))


def _finalize(value: Any) -> Any:
    """Every ``{{ … }}``: measured (and counted) before it is turned into text."""
    tick()
    budget = BUDGET.get()
    size = _check_text(value)
    if budget is not None:
        budget.allocated += size
        if budget.allocated > MAX_ALLOC:
            raise Limit(
                f"the template builds more than {MAX_ALLOC} characters of text while rendering"
            )
    return value


class Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox plus size and time checks on everything that can grow."""

    intercepted_binops = frozenset({"*", "**", "%", "+", "//"})
    concat = staticmethod(_checked_join)

    def call_binop(self, context, operator, left, right):
        tick()
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if _size(seq) and isinstance(n, int) and _size(seq) * n > MAX_VALUE:
                    raise Limit("a repeated text or list would be too large")
            if isinstance(left, int) and isinstance(right, int):
                if left.bit_length() + right.bit_length() > MAX_INT_BITS:
                    raise Limit("a product in the template is too large")
        elif operator == "**":
            if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
                raise Limit("an exponent in the template is too large")
            if isinstance(left, int) and isinstance(right, int):
                if abs(left).bit_length() * max(right, 0) > MAX_INT_BITS:
                    raise Limit("a power in the template is too large")
        elif operator == "%":
            _check_format(left, right)
        elif operator == "+" and _size(left) + _size(right) > MAX_VALUE:
            raise Limit("a joined text or list would be too large")
        return made(super().call_binop(context, operator, left, right))

    def call(__self, __context, __obj, *args, **kwargs):  # noqa: N805 - jinja2's signature
        tick()
        # str.format comes wrapped by the sandbox; look through the wrapper for its string
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(owner, str):
            name = getattr(__obj, "__name__", "")
            _check_args(list(args) + list(kwargs.values()))
            if name in ("format", "format_map"):
                _check_format(owner, [list(args), list(kwargs.values())])
            elif name == "join" and args:
                items = list(args[0]) if isinstance(args[0], str) else args[0]
                if _join_estimate(items, owner) > MAX_VALUE:
                    raise Limit("a joined text would be too large")
            elif name == "replace" and len(args) >= 2 and isinstance(args[1], str):
                grows = owner.count(str(args[0])) * len(args[1]) if args[0] else len(owner)
                if len(owner) + grows > MAX_VALUE:
                    raise Limit("a replaced text would be too large")
            elif name == "expandtabs" and owner.count("\t") * (args[0] if args else 8) > MAX_VALUE:
                raise Limit("an expanded text would be too large")
        return made(super().call(__context, __obj, *args, **kwargs))

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
        tick()
        yield item


@pass_eval_context
def _concat(eval_ctx, items):
    if _join_estimate(items) > MAX_VALUE:
        raise Limit("a joined text would be too large")
    return made(markup_join(items) if eval_ctx.autoescape else str_join(items))


def _safe_range(*args):
    _check_args(args)
    r = range(*args)
    if len(r) > MAX_RANGE:
        raise Limit(f"range() is limited to {MAX_RANGE} items")
    return r


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    """``{{ delivery_date|date("%d.%m.%Y") }}``: format a date or datetime (or ISO string)."""
    if isinstance(value, str):
        value = _dt.datetime.fromisoformat(value)
    if not isinstance(value, _dt.date):
        raise TypeError("the date filter needs a date")
    _check_format(fmt)
    return value.strftime(fmt)


def _sum(iterable, attribute=None, start=0):
    """``sum`` for numbers only: adding lists or texts is quadratic and unbounded."""
    if attribute is not None:
        raise Limit("the sum filter takes numbers only, without attribute=")
    total = start
    for item in iterable:
        tick()
        if not isinstance(total, int | float) or not isinstance(item, int | float):
            raise Limit("the sum filter adds numbers only")
        total = total + item
    return total


_SAFE_FILTERS = (
    "abs capitalize count d default e escape first float forceescape format int items join "
    "last length list lower map max min reject rejectattr replace reverse round select "
    "selectattr sort string striptags title trim truncate unique upper wordcount "
    "center indent wordwrap batch dictsort groupby urlencode filesizeformat"
).split()

# Filters that never turn their input into text: a long list is fine for them.
_STRUCTURAL = set(
    "abs batch count d default dictsort first float groupby int items join last length list "
    "map max min reject rejectattr reverse round select selectattr sort sum unique".split()
)


# Structural filters that make a list of their input's items: given a text, each
# character becomes an item, so a 150,000-character text would be sorted or listed whole
# (0.15 s and 20 MB) before ``made`` could count the result.
_ITEMIZING = {"sort", "unique", "list", "batch", "groupby", "dictsort", "map", "select", "reject"}


def _lines(text: Any) -> int:
    return str(text).count("\n") + 1


def _precheck(name: str, args: tuple, kwargs: dict) -> None:
    """Refuse a filter call whose result would be too large, before it is built."""
    values = list(args) + list(kwargs.values())
    _check_args(values)
    if args and name not in _STRUCTURAL:
        _check_text(args[0])
    if (
        args
        and name in _ITEMIZING
        and isinstance(args[0], str | bytes)
        and len(args[0]) > MAX_ITEMS
    ):
        raise Limit(
            f"{name} would turn a text of {len(args[0])} characters into a list "
            f"(the limit is {MAX_ITEMS} items)"
        )
    if name == "format" and args:
        _check_format(args[0], values[1:])
    elif name == "join" and args:
        items, sep = args[0], (args[1] if len(args) > 1 else kwargs.get("d", ""))
        if _join_estimate(items, sep) > MAX_VALUE:
            raise Limit("a joined text would be too large")
    elif name == "replace" and len(args) >= 3:
        text, old, new = (str(v) for v in args[:3])
        grows = (text.count(old) if old else len(text) + 1) * len(new)
        if len(text) + grows > MAX_VALUE:
            raise Limit("a replaced text would be too large")
    elif name == "indent" and args:
        width = args[1] if len(args) > 1 else kwargs.get("width", 4)
        per_line = len(width) if isinstance(width, str) else int(width)
        if len(str(args[0])) + _lines(args[0]) * per_line > MAX_VALUE:
            raise Limit("an indented text would be too large")
    elif name == "wordwrap" and args:
        width = args[1] if len(args) > 1 else kwargs.get("width", 79)
        wrap = args[3] if len(args) > 3 else kwargs.get("wrapstring") or "\n"
        if not isinstance(width, int) or width < 1:
            raise Limit("wordwrap needs a width of at least 1")
        breaks = len(str(args[0])) // width + _lines(args[0])
        if len(str(args[0])) + breaks * len(str(wrap)) > MAX_VALUE:
            raise Limit("a wrapped text would be too large")
    elif name == "batch" and len(args) > 1 and isinstance(args[1], int) and args[1] > MAX_ITEMS:
        raise Limit(f"batch() is limited to {MAX_ITEMS} items a batch")
    elif name == "truncate" and args:
        end = args[3] if len(args) > 3 else kwargs.get("end", "...")
        _check_text(end)


def _guard_filter(name: str, func):
    """A filter that checks its arguments before it runs and counts its result after."""

    def guarded(*args, **kwargs):
        tick()
        # Filters that take the context or environment get it first: check the rest.
        skip = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0
        _precheck(name, args[skip:], kwargs)
        if name == "join" and skip < len(args) and not isinstance(args[skip], list | tuple):
            # a generator (``map``) is listed first, so its size is known before joining
            items = [made(item) for item in _ticking(None, args[skip])]
            args = (*args[:skip], items, *args[skip + 1 :])
            _precheck(name, args[skip:], kwargs)
        return made(func(*args, **kwargs))

    if hasattr(func, "jinja_pass_arg"):
        guarded.jinja_pass_arg = func.jinja_pass_arg
    guarded.__name__ = getattr(func, "__name__", name)
    return guarded


def make_env(autoescape: bool) -> Sandbox:
    """A sandboxed environment with every limit above in place."""
    env = Sandbox(
        undefined=StrictUndefined,
        autoescape=autoescape,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        finalize=_finalize,
    )
    env.globals = {"range": _safe_range}
    env.filters = {name: _guard_filter(name, FILTERS[name]) for name in _SAFE_FILTERS}
    env.filters["sum"] = _guard_filter("sum", _sum)
    env.filters["date"] = _guard_filter("date", _date)
    env.filters["_fu_ticking"] = _ticking
    env.filters["_fu_concat"] = _concat
    return env
