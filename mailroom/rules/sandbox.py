"""The Jinja environment auto-reply templates run in: immutable sandbox plus resource limits.

Jinja's sandbox keeps a template away from Python internals but not from the CPU or
the memory: `'%0400000000d' % 1` builds 400 MB, `(10**100)**100**2` computes for
minutes, `'x'.ljust(10**9)` or `s|replace('', s)` amplify in one step. Templates are
rendered inside the import's database transaction, so a render must end quickly and
small, whatever the template says. The limits:

- Size: no text built while rendering (an output chunk, a `~` concatenation, a macro
  or block body, a filter's input, the result) may exceed `MAX_TEXT`. Operations that
  can multiply a size in one step (`*`, `**`, `%`, `str.format`, `center`, `indent`,
  `replace`, `join`, `wordwrap`, `batch`) are checked *before* they run, from their
  operands; the rest grow by a small factor at most and meet the next check.
- Work: a step budget (`MAX_STEPS`) counts every loop iteration, attribute and item
  lookup, call, operator, comparison, filter and test, plus one step per 16
  characters and one per list item each of them reads or produces (`x in big`,
  `big.split()` and `big|sort` cost what they touch). Steps, not seconds: the verdict is the same on a busy and an
  idle machine, so validation at save time and the render at import time agree, and
  no thread or signal is needed (nothing to leak inside a transaction). Each step is
  bounded by the size limit, so the budget bounds the time too.
- Surface: string methods are an allow-list without the amplifiers; numbers have no
  methods; `lipsum` and the filters `pprint`, `random`, `tojson`, `urlize` and
  `xmlattr` are removed (debugging, randomness and script or markup building have no
  place in an email reply); `include`, `import` and `extends` have no loader.

The budget lives in a ContextVar set by `limits()`, so renders on different threads
do not share it. Pure: no I/O, no clock.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import operator
import re
import string
from collections.abc import Iterator
from typing import Any

from jinja2 import StrictUndefined
from jinja2.compiler import CodeGenerator
from jinja2.filters import FILTERS
from jinja2.runtime import Namespace
from jinja2.tests import TESTS
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup

MAX_TEXT = 256 * 1024      # characters of any text built while rendering, the result included
MAX_STEPS = 200_000        # a form letter takes tens; a loop over every character of a long text, thousands
MAX_INT_BITS = 10_000      # about 3,000 digits
MAX_WIDTH = 1_000          # a format width or precision, a center/indent width, a batch size
_CHARS_PER_STEP = 16


class LimitError(Exception):
    """The template exceeded a resource limit; the message says which."""


class _Budget:
    def __init__(self, steps: int):
        self.left = steps


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("template_budget", default=None)


@contextlib.contextmanager
def limits(steps: int = MAX_STEPS) -> Iterator[None]:
    """Run one render under a fresh step budget."""
    token = _BUDGET.set(_Budget(steps))
    try:
        yield
    finally:
        _BUDGET.reset(token)


def tick(steps: int = 1) -> None:
    budget = _BUDGET.get()
    if budget is None:
        # Jinja folds constant expressions at compile time by calling our hooks; an
        # error there just leaves the expression to run time, under a budget.
        raise LimitError("no render budget")
    budget.left -= steps
    if budget.left < 0:
        raise LimitError(f"it takes too long to render (more than {MAX_STEPS:,} steps); "
                         "is there a loop that runs too often?")


_CONTAINERS = (list, tuple, dict, set, frozenset, range)


def cost(*values: Any) -> int:
    """Steps for an operation that reads `values`: one, plus one per 16 characters of text
    and one per item of a list or dict (filters such as sort do Python work per item)."""
    chars = sum(len(v) for v in values if isinstance(v, str))
    items = sum(len(v) for v in values if isinstance(v, _CONTAINERS))
    return 1 + chars // _CHARS_PER_STEP + items


def _kb(chars: int) -> str:
    return f"{chars // 1024:,} KB"


def too_long(what: str = "a value written out as text") -> LimitError:
    return LimitError(f"{what} would be longer than {_kb(MAX_TEXT)}")


def size(value: Any, limit: int = MAX_TEXT) -> int:
    """About how many characters `str(value)` takes; counting stops soon after `limit`."""
    if isinstance(value, str):
        return len(value)
    if value is None or isinstance(value, (bool, float)):
        return 8
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if isinstance(value, Namespace):
        value = dict(value._Namespace__attrs)  # its repr shows them
    if isinstance(value, dict):
        value = [item for pair in value.items() for item in pair]
    if isinstance(value, (list, tuple, set, frozenset)):
        tick(1 + len(value) // _CHARS_PER_STEP)
        total = 2
        for item in value:
            total += 2 + size(item, limit - total)
            if total > limit:
                break
        return total
    return 16  # ranges, loops, macros, generators: short reprs


def check_size(value: Any, what: str = "a value written out as text") -> int:
    n = size(value)
    if n > MAX_TEXT:
        raise too_long(what)
    return n


# -- operators -----------------------------------------------------------------------------

_SEQUENCES = (str, list, tuple)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_binop(op: str, left: Any, right: Any) -> None:
    if op == "+" and isinstance(left, _SEQUENCES) and isinstance(right, _SEQUENCES):
        if size(left) + size(right) > MAX_TEXT:
            raise too_long()
    elif op == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, _SEQUENCES) and isinstance(count, int) and size(seq) * count > MAX_TEXT:
                raise too_long("the repeated text")
        if _is_int(left) and _is_int(right) and left.bit_length() + right.bit_length() > MAX_INT_BITS:
            raise LimitError(f"numbers above {MAX_INT_BITS:,} bits are not allowed")
    elif op == "**":
        if isinstance(left, int) and _is_int(right) and right > 0 and abs(left) > 1 \
                and left.bit_length() * right > MAX_INT_BITS:
            raise LimitError(f"numbers above {MAX_INT_BITS:,} bits are not allowed "
                             f"({left.bit_length()}-bit number to the power {right})")
    elif op == "%" and isinstance(left, str):
        check_printf(left, right)


# printf-style conversion: %[(key)][flags][width][.precision][length]type
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)", re.S)


def _check_width(number: str | None, where: str) -> int:
    if number == "*":
        raise LimitError(f"a * width in {where} is not allowed; write the number")
    width = int(number) if number else 0
    if width > MAX_WIDTH:
        raise LimitError(f"widths and precisions above {MAX_WIDTH:,} are not allowed ({width} in {where})")
    return width


def _largest(values: Any) -> int:
    return max((size(v) for v in values), default=0)


def check_printf(fmt: str, args: Any) -> None:
    """`fmt % args` stays within the limits: small widths, bounded result."""
    values = args.values() if isinstance(args, dict) else args if isinstance(args, tuple) else (args,)
    largest = _largest(values)
    estimate = len(fmt)
    for spec in _PRINTF.finditer(fmt):
        if spec.group(3) == "%":
            continue
        width = _check_width(spec.group(1), spec.group())
        precision = _check_width(spec.group(2), spec.group())
        estimate += width + precision + largest * (6 if spec.group(3) in "ra" else 1)
    if estimate > MAX_TEXT:
        raise too_long("the formatted text")


def check_format(fmt: str, args: tuple, kwargs: dict) -> None:
    """`fmt.format(*args, **kwargs)` stays within the limits."""
    largest = _largest([*args, *kwargs.values()])
    estimate = len(fmt)
    for _literal, field, spec, conversion in string.Formatter().parse(fmt):
        if field is None:
            continue
        if spec and "{" in spec:
            raise LimitError("a {...} inside a format specification is not allowed; write the number")
        width = max((_check_width(n, "{:" + spec + "}") for n in re.findall(r"\d+", spec or "")), default=0)
        estimate += width + largest * (6 if conversion in ("r", "a") else 1)
    if estimate > MAX_TEXT:
        raise too_long("the formatted text")


# -- filters -------------------------------------------------------------------------------

_REMOVED_FILTERS = frozenset({"pprint", "random", "tojson", "urlize", "xmlattr"})


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _pre_center(value: Any, width: int = 80) -> Any:
    _check_width(str(width), "center")
    return value


def _pre_indent(value: Any, width: Any = 4, first: bool = False, blank: bool = False) -> Any:
    w = len(width) if isinstance(width, str) else int(width)
    _check_width(str(w), "indent")
    text = _text(value)
    if len(text) + (text.count("\n") + 1) * w > MAX_TEXT:
        raise too_long("the indented text")
    return value


def _pre_replace(value: Any, old: Any, new: Any, count: Any = None) -> Any:
    text, old, new = _text(value), _text(old), _text(new)
    found = len(text) + 1 if old == "" else text.count(old)
    if isinstance(count, int) and count >= 0:
        found = min(found, count)
    if len(text) + found * (len(new) - len(old)) > MAX_TEXT:
        raise too_long("the replaced text")
    return value


def _pre_join(value: Any, d: Any = "", attribute: Any = None) -> Any:
    items = list(counted(value))
    if size(items) + len(items) * len(_text(d)) > MAX_TEXT:
        raise too_long("the joined text")
    return items


def _pre_format(value: Any, *args: Any, **kwargs: Any) -> Any:
    check_printf(_text(value), kwargs or args)
    return value


def _pre_wordwrap(value: Any, width: int = 79, break_long_words: bool = True, wrapstring: Any = None,
                  break_on_hyphens: bool = True) -> Any:
    text, joiner = _text(value), _text(wrapstring or "\n")
    lines = 2 * len(text) // max(int(width), 1) + text.count("\n") + 1
    if len(text) + lines * len(joiner) > MAX_TEXT:
        raise too_long("the wrapped text")
    return value


def _pre_batch(value: Any, linecount: int, fill_with: Any = None) -> Any:
    _check_width(str(linecount), "batch")
    return value


_PRECHECKS = {"center": _pre_center, "indent": _pre_indent, "replace": _pre_replace, "join": _pre_join,
              "format": _pre_format, "wordwrap": _pre_wordwrap, "batch": _pre_batch}


def counted(iterable: Any) -> Iterator[Any]:
    """`iterable`, one step per item: loops and lazy filters cannot spin for free."""
    for item in iterable:
        tick()
        yield item


def _guarded(name: str, func: Any) -> Any:
    offset = 1 if getattr(func, "jinja_pass_arg", None) else 0   # context/environment first
    precheck = _PRECHECKS.get(name)

    @functools.wraps(func)   # keeps jinja_pass_arg, so Jinja still passes the context
    def guarded(*args: Any, **kwargs: Any) -> Any:
        head, value, rest = args[:offset], args[offset], args[offset + 1:]
        tick(cost(value, *rest, *kwargs.values()))
        check_size(value)
        for arg in (*rest, *kwargs.values()):
            check_size(arg, "an argument")
        if precheck:
            value = precheck(value, *rest, **kwargs)
        result = func(*head, value, *rest, **kwargs)
        if isinstance(result, Iterator):
            result = counted(result)
        return result

    return guarded


def _counted_test(func: Any) -> Any:
    @functools.wraps(func)
    def test(*args: Any, **kwargs: Any) -> Any:
        tick(cost(*args, *kwargs.values()))   # `x is in big` reads all of big
        return func(*args, **kwargs)

    return test


_COMPARISONS = {"eq": operator.eq, "ne": operator.ne, "gt": operator.gt, "gteq": operator.ge,
                "lt": operator.lt, "lteq": operator.le, "in": lambda a, b: a in b,
                "notin": lambda a, b: a not in b}


def compare(left: Any, pairs: tuple) -> Any:
    """`left op1 right1 op2 right2 ...` as Python chains it, each step paid for."""
    result: Any = True
    for op, right in pairs:
        tick(cost(left, right))
        result = _COMPARISONS[op](left, right)
        if not result:
            return result
        left = right
    return result


# -- the environment -----------------------------------------------------------------------

# Methods a template may call, by type. Left out on purpose: ljust, rjust, center, zfill,
# expandtabs, replace, join, translate, encode (amplify or leave the text type) and
# every method of numbers (int.to_bytes(10**9) is 1 GB).
_STR_METHODS = frozenset({
    "capitalize", "casefold", "count", "endswith", "find", "isalnum", "isalpha", "isdecimal",
    "isdigit", "islower", "isnumeric", "isspace", "istitle", "isupper", "lower", "lstrip",
    "partition", "removeprefix", "removesuffix", "rfind", "rpartition", "rsplit", "rstrip",
    "split", "splitlines", "startswith", "strip", "swapcase", "title", "upper",
})
_ALLOWED_METHODS: tuple[tuple[type | tuple[type, ...], frozenset[str]], ...] = (
    (Markup, _STR_METHODS | {"striptags", "unescape"}),
    (str, _STR_METHODS),
    (dict, frozenset({"get", "items", "keys", "values"})),
    ((list, tuple), frozenset({"count", "index"})),
    ((int, float, bytes, bytearray, complex), frozenset()),
)


class _CountingCodeGenerator(CodeGenerator):
    """Jinja's code generator, with every loop counted and every `~` checked before it joins."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._loop_iterables: set[int] = set()

    def visit_For(self, node: Any, frame: Any) -> None:
        self._loop_iterables.add(id(node.iter))
        super().visit_For(node, frame)

    def visit(self, node: Any, *args: Any, **kwargs: Any) -> Any:
        if id(node) in self._loop_iterables:
            self.write("environment.counted(")
            super().visit(node, *args, **kwargs)
            self.write(")")
            return None
        return super().visit(node, *args, **kwargs)

    def visit_Compare(self, node: Any, frame: Any) -> None:
        # Operands are evaluated before comparing (Python would skip the rest of a
        # chain once one comparison is false); templates have no side effects to differ.
        self.write("environment.compare(")
        self.visit(node.expr, frame)
        self.write(", (")
        for operand in node.ops:
            self.write(f"({operand.op!r}, ")
            self.visit(operand.expr, frame)
            self.write("), ")
        self.write("))")

    def visit_Concat(self, node: Any, frame: Any) -> None:
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"{func_name}(environment.checked_parts((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with the limits above; render only inside `limits()`."""

    code_generator_class = _CountingCodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def __init__(self, *, autoescape: bool):
        super().__init__(undefined=StrictUndefined, autoescape=autoescape, keep_trailing_newline=True,
                         finalize=self._finalize)
        del self.globals["lipsum"]
        self.filters = {name: _guarded(name, func) for name, func in FILTERS.items()
                        if name not in _REMOVED_FILTERS}
        self.tests = {name: _counted_test(func) for name, func in TESTS.items()}
        self.counted = counted
        self.compare = compare

    @staticmethod
    def checked_parts(parts: tuple) -> tuple:
        total = sum(size(part) for part in parts)
        tick(1 + total // _CHARS_PER_STEP)
        if total > MAX_TEXT:
            raise too_long("the text joined with ~")
        return parts

    @staticmethod
    def _finalize(value: Any) -> Any:
        tick(1 + check_size(value, "a merged value") // _CHARS_PER_STEP)
        return value

    def concat(self, chunks: Any) -> str:  # type: ignore[override]
        """Join a macro's or block's output, refusing it past MAX_TEXT (Jinja's is "".join)."""
        parts, total = [], 0
        for chunk in chunks:
            total += len(chunk)
            if total > MAX_TEXT:
                raise too_long()
            parts.append(chunk)
        return "".join(parts)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        for types, allowed in _ALLOWED_METHODS:
            if isinstance(obj, types):
                return attr in allowed or not callable(value)
        return True

    def getattr(self, obj: Any, attribute: str) -> Any:
        tick()
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        tick()
        value = super().getitem(obj, argument)
        if isinstance(argument, slice):
            tick(cost(value))   # a slice copies
        return value

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        # A method costs what it reads: `big.split()` touches every character of big.
        tick(cost(getattr(__obj, "__self__", None), *args, *kwargs.values()))
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        tick(cost(left, right))
        _check_binop(operator, left, right)
        result = super().call_binop(context, operator, left, right)
        if operator == "*":
            tick(cost(result))
        return result

    def wrap_str_format(self, value: Any) -> Any:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt, is_map = value.__self__, value.__name__ == "format_map"

        @functools.wraps(wrapped)
        def checked(*args: Any, **kwargs: Any) -> str:
            tick()
            if is_map:
                mapping = args[0] if args and isinstance(args[0], dict) else {}
                check_format(fmt, (), mapping)
            else:
                check_format(fmt, args, kwargs)
            return wrapped(*args, **kwargs)

        return checked
