"""Paths for the webhook template engine: a small JSONPath subset, parsed and evaluated without eval.

``$.a.b``, ``a.b`` (the leading ``$``/``$.`` is optional), ``a[0]``, ``a[-1]``, ``a.*``, ``a[*]``,
``['key with.dots']``. Evaluation only indexes dicts and lists: no attribute access, no calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX_PATH_LENGTH = 256
QUOTES = "'\""


class TemplateError(ValueError):
    """A template that cannot be parsed or rendered; the message says why."""


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


def find(segments: tuple[Segment, ...], data: Any) -> list[Any]:
    """Every value the path reaches in ``data``, in document order."""
    current = [data]
    for segment in segments:
        found: list[Any] = []
        for value in current:
            if isinstance(segment, Wildcard):
                if isinstance(value, dict):
                    found.extend(value.values())
                elif isinstance(value, list):
                    found.extend(value)
            elif isinstance(segment, Key):
                if isinstance(value, dict) and segment.name in value:
                    found.append(value[segment.name])
            elif isinstance(value, list) and -len(value) <= segment.index < len(value):
                found.append(value[segment.index])
        current = found
        if not current:
            break
    return current
