"""The webhook JSON template engine, with the semantics of Quay's util/jsontemplate.

A template is any JSON document. Its strings, object keys included, may hold ``${path}``
expressions, where ``path`` is a small JSONPath into the event payload: ``$.a.b``, ``a.b``,
``a[0]``, ``a[-1]``, ``a.*``, ``a[*]``, ``['key with.dots']``. A string that is exactly one
expression becomes the typed value it finds (None when nothing matches, a list when several do);
an expression inside longer text becomes text: strings as they are, other values as JSON, several
matches joined with ", ", nothing (or null) as "(none)". Keys are always rendered as text.

The engine only reads the payload it is given: no attribute access, no calls, no eval. Limits
keep it cheap: 64 KiB of template, 32 levels of nesting, 256 characters per path, 1 MiB of output.
"""

from __future__ import annotations

import json
import math
from typing import Any

from regnotify.methods.template_paths import (
    MAX_PATH_LENGTH,
    QUOTES,
    Index,
    Key,
    Segment,
    TemplateError,
    Wildcard,
    find,
    parse_path,
    short,
)

__all__ = [
    "MAX_PATH_LENGTH",
    "Index",
    "Key",
    "Segment",
    "TemplateError",
    "Wildcard",
    "find",
    "parse_path",
    "render_template",
]

MAX_TEMPLATE_BYTES = 64 * 1024
MAX_DEPTH = 32
MAX_OUTPUT_BYTES = 1024 * 1024
MISSING = "(none)"


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


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TemplateError(f"payload value cannot be written as JSON: {exc}") from exc


def _as_text(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, str):
        return value
    return _dumps(value)


class _Renderer:
    def __init__(self, payload: Any) -> None:
        self.payload = payload
        self.size = 0

    def _spend(self, amount: int) -> None:
        self.size += amount
        if self.size > MAX_OUTPUT_BYTES:
            raise TemplateError(f"rendered template is larger than {MAX_OUTPUT_BYTES // 1024} KiB")

    def text(self, template: str) -> str:
        out: list[str] = []
        for piece in split_string(template):
            if isinstance(piece, str):
                out.append(piece)
            else:
                matches = find(piece, self.payload)
                out.append(", ".join(_as_text(m) for m in matches) if matches else MISSING)
            self._spend(len(out[-1]))
        return "".join(out)

    def string(self, template: str) -> Any:
        pieces = split_string(template)
        if len(pieces) == 1 and not isinstance(pieces[0], str):
            matches = find(pieces[0], self.payload)
            value: Any = None if not matches else matches[0] if len(matches) == 1 else matches
            self._spend(len(_dumps(value)))
            return value
        return self.text(template)

    def render(self, template: Any) -> Any:
        if isinstance(template, str):
            return self.string(template)
        if isinstance(template, dict):
            return {self.text(key): self.render(value) for key, value in template.items()}
        if isinstance(template, list):
            return [self.render(item) for item in template]
        self._spend(8)
        return template


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


def render_template(template: str | dict[str, Any] | list[Any], payload: Any) -> Any:
    """Apply ``template`` to ``payload``; TemplateError with a readable message when it cannot."""
    renderer = _Renderer(payload)
    result = renderer.render(load_template(template))
    size = len(_dumps(result).encode("utf-8", "surrogatepass"))
    if size > MAX_OUTPUT_BYTES:
        raise TemplateError(f"rendered template is larger than {MAX_OUTPUT_BYTES // 1024} KiB")
    return result
