"""Parsing for the webhook template engine, and its paths: a small JSONPath subset, evaluated without eval.

A template's text is checked and loaded (``load_template``: JSON, 64 KiB, 32 levels, Unicode), its
strings split into literal pieces and paths (``split_string``). Paths: ``$.a.b``, ``a.b`` (the
leading ``$``/``$.`` is optional), ``a[0]``, ``a[-1]``, ``a.*``, ``a[*]``, ``['key with.dots']``.
Evaluation only indexes dicts and lists: no attribute access, no calls; it spends a ``Budget``:
steps for every segment and every value it reaches.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from typing import Any

MAX_TEMPLATE_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_PATH_LENGTH = 256
SEGMENT_STEPS = 3  # budget steps a path segment costs, besides one for each value it reaches
QUOTES = "'\""
BUDGET_SETTING = "REGNOTIFY_TEMPLATE_MAX_STEPS"


class TemplateError(ValueError):
    """A template that cannot be parsed or rendered; the message says why."""


class TemplateBudgetError(TemplateError):
    """Rendering needed more steps of work than its budget (``max_steps``) allows."""

    def __init__(self, max_steps: int) -> None:
        self.max_steps = max_steps
        super().__init__(
            f"the template needs more than {max_steps:,} steps of work for this event "
            f"(setting {BUDGET_SETTING}); simplify its ${{…}} expressions"
        )


class Budget:
    """Steps of work one rendering may still do (``left``); ``spend`` raises TemplateBudgetError past
    the limit. Hot loops decrement ``left`` themselves and raise ``overrun()`` once it is negative."""

    __slots__ = ("left", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.left = limit

    def spend(self, steps: int) -> None:
        self.left -= steps
        if self.left < 0:
            raise TemplateBudgetError(self.limit)

    def overrun(self) -> TemplateBudgetError:
        return TemplateBudgetError(self.limit)


@dataclass(frozen=True)
class Key:
    name: str


@dataclass(frozen=True)
class Index:
    index: int


@dataclass(frozen=True)
class Wildcard:
    pass


Segment = Key | Index | Wildcard
WILDCARD = Wildcard()


def short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_name_char(ch: str) -> bool:
    return ch.isalnum() or ch in "_-@"


def _read_quoted(expr: str, i: int) -> tuple[str, int]:
    quote, i, out = expr[i], i + 1, []
    while i < len(expr):
        ch = expr[i]
        if ch == "\\" and i + 1 < len(expr):
            out.append(expr[i + 1])
            i += 2
        elif ch == quote:
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise TemplateError(f"unclosed quote in expression ${{{short(expr)}}}")


def _read_bracket(expr: str, i: int) -> tuple[Segment, int]:
    """Parse ``[*]``, ``[3]``, ``[-1]`` or ``['key']`` starting after the ``[``."""
    n = len(expr)
    while i < n and expr[i] == " ":
        i += 1
    if i >= n:
        raise TemplateError(f"unclosed [ in expression ${{{short(expr)}}}")
    segment: Segment
    if expr[i] == "*":
        segment, i = WILDCARD, i + 1
    elif expr[i] in QUOTES:
        name, i = _read_quoted(expr, i)
        segment = Key(name)
    else:
        start = i
        if expr[i] == "-":
            i += 1
        while i < n and expr[i].isascii() and expr[i].isdigit():
            i += 1
        digits = expr[start:i]
        if digits in ("", "-"):
            raise TemplateError(
                f"expected *, a number or a quoted key after [ in expression ${{{short(expr)}}}"
            )
        segment = Index(int(digits))
    while i < n and expr[i] == " ":
        i += 1
    if i >= n or expr[i] != "]":
        raise TemplateError(f"expected ] in expression ${{{short(expr)}}}")
    return segment, i + 1


def parse_path(expression: str) -> tuple[Segment, ...]:
    """The segments of one path expression (the text between ``${`` and ``}``)."""
    expr = expression.strip()
    if not expr:
        raise TemplateError("empty expression ${}")
    if len(expr) > MAX_PATH_LENGTH:
        raise TemplateError(f"path longer than {MAX_PATH_LENGTH} characters: ${{{short(expr)}}}")
    segments: list[Segment] = []
    i, n = (1, len(expr)) if expr[0] == "$" else (0, len(expr))
    bare_start = i == 0
    while i < n:
        ch = expr[i]
        if ch == "[":
            segment, i = _read_bracket(expr, i + 1)
            segments.append(segment)
        elif ch == "." or bare_start:
            if ch == ".":
                i += 1
            if i < n and expr[i] == ".":
                raise TemplateError(f"recursive descent (..) is not supported: ${{{short(expr)}}}")
            if i < n and expr[i] == "*":
                segments.append(WILDCARD)
                i += 1
            else:
                start = i
                while i < n and _is_name_char(expr[i]):
                    i += 1
                if i == start:
                    raise TemplateError(f"expected a key name in expression ${{{short(expr)}}}")
                segments.append(Key(expr[start:i]))
        else:
            raise TemplateError(f"unexpected {ch!r} in expression ${{{short(expr)}}}")
        bare_start = False
    return tuple(segments)


def _closing_brace(text: str, i: int) -> int:
    """Index of the ``}`` that ends an expression starting at ``i``, skipping quoted keys; -1 if none."""
    quote = ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in QUOTES:
            quote = ch
        elif ch == "}":
            return i
        i += 1
    return -1


def split_string(text: str) -> list[str | tuple[Segment, ...]]:
    """Literal pieces and parsed paths, in order."""
    pieces: list[str | tuple[Segment, ...]] = []
    i = 0
    while True:
        start = text.find("${", i)
        if start < 0:
            if i < len(text):
                pieces.append(text[i:])
            return pieces
        end = _closing_brace(text, start + 2)
        if end < 0:
            raise TemplateError(f"unclosed ${{ in {short(text)!r}")
        if start > i:
            pieces.append(text[i:start])
        pieces.append(parse_path(text[start + 2 : end]))
        i = end + 1


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise TemplateError(
            f"template text must be Unicode: {short(text)!r} holds a lone surrogate such as \\ud800"
        ) from None


def _check_structure(node: Any, depth: int) -> None:
    """Nesting at most MAX_DEPTH, and only JSON types (str keys, finite numbers, Unicode text)."""
    if depth > MAX_DEPTH:
        raise TemplateError(f"template is nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, dict):
        for key, value in node.items():
            if not isinstance(key, str):
                raise TemplateError(f"template object keys must be strings, not {key!r}")
            _check_text(key)
            _check_structure(value, depth + 1)
    elif isinstance(node, list):
        for item in node:
            _check_structure(item, depth + 1)
    elif isinstance(node, str):
        _check_text(node)
    elif isinstance(node, float) and not math.isfinite(node):
        raise TemplateError("template numbers must be finite")
    elif not (node is None or isinstance(node, str | int | float)):
        raise TemplateError(f"template holds a {type(node).__name__}, which is not JSON")


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def _reject_constant(name: str) -> Any:
    raise TemplateError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise TemplateError(f"number {short(text)} is out of range")
    return value


def load_template(template: str | dict[str, Any] | list[Any]) -> Any:
    """Parse and check a template (JSON text, or an already parsed object or array)."""
    if isinstance(template, str):
        if len(template.encode("utf-8", "surrogatepass")) > MAX_TEMPLATE_BYTES:
            raise TemplateError(f"template is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
        if _bracket_depth(template) > MAX_DEPTH:
            raise TemplateError(f"template is nested deeper than {MAX_DEPTH} levels")
        try:
            parsed = json.loads(template, parse_constant=_reject_constant, parse_float=_finite_float)
        except TemplateError:
            raise
        except (ValueError, RecursionError) as exc:
            raise TemplateError(f"template is not valid JSON: {exc}") from exc
        _check_structure(parsed, 0)
        return parsed
    if not isinstance(template, dict | list):
        raise TemplateError(
            f"template must be JSON text, an object or an array, not {type(template).__name__}"
        )
    _check_structure(template, 0)
    try:
        size = len(json.dumps(template))
    except (TypeError, ValueError) as exc:
        raise TemplateError(f"template is not valid JSON: {exc}") from exc
    if size > MAX_TEMPLATE_BYTES:
        raise TemplateError(f"template is larger than {MAX_TEMPLATE_BYTES // 1024} KiB")
    return template


def find(segments: tuple[Segment, ...], data: Any, budget: Budget | None = None) -> list[Any]:
    """Every value the path reaches in ``data``, in document order.

    Each segment costs ``budget`` SEGMENT_STEPS and each value it reaches a step, counted once per
    segment rather than per value; what a wildcard adds is checked against what is left as it is added,
    so a wildcard over a huge list stops at the limit instead of after it."""
    if budget is None:
        budget = Budget(sys.maxsize)
    current = [data]
    for segment in segments:
        found: list[Any] = []
        if isinstance(segment, Wildcard):
            room = budget.left
            for value in current:
                if isinstance(value, dict):
                    found.extend(value.values())
                elif isinstance(value, list):
                    found.extend(value)
                else:
                    continue
                if len(found) > room:
                    raise budget.overrun()
        elif isinstance(segment, Key):
            name = segment.name
            for value in current:
                if isinstance(value, dict) and name in value:
                    found.append(value[name])
        else:
            index = segment.index
            for value in current:
                if isinstance(value, list) and -len(value) <= index < len(value):
                    found.append(value[index])
        budget.left -= SEGMENT_STEPS + len(found)
        if budget.left < 0:
            raise budget.overrun()
        current = found
        if not current:
            break
    return current
