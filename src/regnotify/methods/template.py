"""The webhook JSON template engine, with the semantics of Quay's util/jsontemplate.

A template is any JSON document. Its strings, object keys included, may hold ``${path}``
expressions, where ``path`` is a small JSONPath into the event payload: ``$.a.b``, ``a.b``,
``a[0]``, ``a[-1]``, ``a.*``, ``a[*]``, ``['key with.dots']``. A string that is exactly one
expression becomes the typed value it finds (None when nothing matches, a list when several do);
an expression inside longer text becomes text: strings as they are, other values as JSON, several
matches joined with "," (no space, as Quay's), nothing (or null) as "(none)". Keys are always
rendered as text.

The engine only reads the payload it is given: no attribute access, no calls, no eval. Limits
keep it cheap: 64 KiB of template, 32 levels of nesting, 256 characters per path, 1 MiB of output,
and a work budget (``max_steps``, the setting ``template_max_steps``) that every template node,
every value a path reaches and every piece of output spends. A template is parsed once into a
compiled tree (cached by its text); ``render_body`` renders on the event loop while the work stays
small and moves the rest to a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any, Literal, TypeVar, overload

from regnotify.methods.template_paths import (
    BUDGET_SETTING,
    MAX_DEPTH,
    MAX_PATH_LENGTH,
    MAX_TEMPLATE_BYTES,
    Budget,
    Index,
    Key,
    Segment,
    TemplateBudgetError,
    TemplateError,
    Wildcard,
    find,
    load_template,
    parse_path,
    split_string,
)

__all__ = [
    "BUDGET_SETTING",
    "DEFAULT_MAX_STEPS",
    "MAX_DEPTH",
    "MAX_PATH_LENGTH",
    "MAX_TEMPLATE_BYTES",
    "Budget",
    "Index",
    "Key",
    "Segment",
    "TemplateBudgetError",
    "TemplateError",
    "Wildcard",
    "compile_template",
    "find",
    "in_template_thread",
    "load_template",
    "parse_path",
    "render_body",
    "render_json",
    "render_template",
]

MAX_OUTPUT_BYTES = 1024 * 1024
MISSING = "(none)"
MATCH_SEPARATOR = ","  # between several matches of an expression inside text (Quay's jsontemplate)

# The work budget. Each value a path segment reaches costs a step (the segment itself SEGMENT_STEPS);
# the rest is weighed to match, so that on this project's slow 2-core test machine a step is 20-60 ns
# of CPU: 200,000 steps (a hostile template stopped at the default limit) take 4-10 ms, the longest
# single JSON encoding they allow about 2 ms.
DEFAULT_MAX_STEPS = 200_000  # the default of Settings.template_max_steps
TEMPLATE_NODE_STEPS = 4  # a node of the template holding an expression somewhere below it
LITERAL_NODE_STEPS = 2  # a node of a part of the template without expressions
EXPRESSION_STEPS = 8  # evaluating one ${…}, besides its segments and the values they reach
NODE_STEPS = 8  # a node of an object or array written to the output (walked, then encoded as JSON)
CHARS_PER_STEP = 16  # characters of output text
MATCH_STEPS = 2  # each of several matches written into text
INLINE_STEPS = 10_000  # render_body: at most this much work on the event loop (about 1 ms)...
INLINE_TEMPLATE_CHARS = 4096  # ...and for templates this short or already parsed (parsing is not budgeted)
COMPILED_CACHE_CHARS = 512 * 1024  # of template text kept compiled (about 20 MB at most)

Result = TypeVar("Result")


class _Expr:
    """A string that is exactly one ``${path}``: it renders to the typed value the path finds."""

    __slots__ = ("path",)

    def __init__(self, path: tuple[Segment, ...]) -> None:
        self.path = path


class _Text:
    """A string (or object key) with ``${path}`` inside text: literal pieces and paths, in order."""

    __slots__ = ("pieces",)

    def __init__(self, pieces: tuple[str | tuple[Segment, ...], ...]) -> None:
        self.pieces = pieces


class _Object:
    """An object of the template: its keys (literal or ``_Text``) and compiled values, in order."""

    __slots__ = ("items",)

    def __init__(self, items: tuple[tuple[str | _Text, Any], ...]) -> None:
        self.items = items


class _Literal:
    """An object or array without expressions anywhere inside: it renders to a fresh copy of itself,
    parsed from its JSON text (made on first use) at C speed."""

    __slots__ = ("_text", "nodes", "value")

    def __init__(self, value: dict[str, Any] | list[Any], nodes: int) -> None:
        self.value = value
        self.nodes = nodes
        self._text: str | None = None

    @property
    def text(self) -> str:
        if self._text is None:
            self._text = _encode(self.value)
        return self._text


# A compiled node: a str, int, float, bool or None without expressions, an _Expr, a _Text, an
# _Object, a _Literal, or a tuple of compiled nodes (an array).
_PLAIN = (str, int, float, bool, type(None))


@overload
def _compile_string(text: str, *, key: Literal[True]) -> str | _Text: ...
@overload
def _compile_string(text: str, *, key: bool = False) -> str | _Expr | _Text: ...
def _compile_string(text: str, *, key: bool = False) -> str | _Expr | _Text:
    if "${" not in text:
        return text
    pieces = split_string(text)
    if len(pieces) == 1 and not isinstance(pieces[0], str) and not key:
        return _Expr(pieces[0])
    return _Text(tuple(pieces))


def _nodes(compiled: Any) -> int:
    """How many nodes a compiled node stands for when it is plain or a _Literal; 0 otherwise."""
    if isinstance(compiled, _Literal):
        return compiled.nodes
    return 1 if isinstance(compiled, _PLAIN) else 0


def _compile(node: Any) -> Any:
    if isinstance(node, str):
        return _compile_string(node)
    if isinstance(node, dict):
        items = tuple((_compile_string(k, key=True), _compile(v)) for k, v in node.items())
        counts = [_nodes(v) if isinstance(k, str) else 0 for k, v in items]
        if all(counts):
            return _Literal(node, 1 + sum(counts))
        return _Object(items)
    if isinstance(node, list):
        compiled = tuple(_compile(item) for item in node)
        counts = [_nodes(item) for item in compiled]
        if all(counts):
            return _Literal(node, 1 + sum(counts))
        return compiled
    return node


class _CompiledCache:
    """Compiled templates by their text, the least recently used dropped first once the texts add up
    to more than ``limit`` characters (a compiled template takes up to ~35 times its text)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._chars = 0
        self._lock = threading.Lock()  # used from the event loop and from the template thread

    def __contains__(self, text: str) -> bool:
        with self._lock:
            return text in self._items

    def get(self, text: str) -> Any:
        with self._lock:
            found = self._items.get(text)
            if found is not None:
                self._items.move_to_end(text)
                return found
        compiled = _compile(load_template(text))
        with self._lock:
            if text not in self._items:
                self._items[text] = compiled
                self._chars += len(text)
                while self._chars > self.limit and len(self._items) > 1:
                    dropped, _ = self._items.popitem(last=False)
                    self._chars -= len(dropped)
        return compiled


_compiled = _CompiledCache(COMPILED_CACHE_CHARS)


def compile_template(template: str | dict[str, Any] | list[Any]) -> Any:
    """Check and parse ``template`` (TemplateError if it is no template); text is parsed once."""
    if isinstance(template, str):
        return _compiled.get(template)
    return _compile(load_template(template))


def _dumps(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TemplateError(f"payload value cannot be written as JSON: {exc}") from exc


def _encode(document: Any) -> str:
    """The compact JSON text the webhook sends (as ``http_send.encode_json``), or TemplateError."""
    try:
        return json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError, RecursionError) as exc:
        raise TemplateError(f"payload value cannot be written as JSON: {exc}") from exc


BOOL_TEXT = {True: "true", False: "false"}


class _Renderer:
    """One rendering: the payload, the budget it spends, and the output written so far."""

    def __init__(self, payload: Any, budget: Budget) -> None:
        self.payload = payload
        self.budget = budget
        self.size = 0  # a lower bound of the output's JSON bytes
        self._weights: dict[int, tuple[int, int]] = {}  # payload containers by id: nodes, bytes
        self._texts: dict[int, str] = {}  # payload containers by id: their JSON text

    def _emit(self, size: int) -> None:
        """Output of (at least) ``size`` bytes: checked against the output cap and paid for."""
        self.size += size
        if self.size > MAX_OUTPUT_BYTES:
            raise TemplateError(f"rendered template is larger than {MAX_OUTPUT_BYTES // 1024} KiB")
        budget = self.budget
        budget.left -= size // CHARS_PER_STEP
        if budget.left < 0:
            raise budget.overrun()

    def _weigh(self, value: dict[Any, Any] | list[Any], memo: bool) -> int:
        """Pay NODE_STEPS for each node of ``value`` before it is written (the walk stops as soon as
        the budget cannot pay for it); a lower bound of its JSON bytes."""
        budget = self.budget
        known = self._weights.get(id(value)) if memo else None
        if known is not None:
            budget.left -= known[0] * NODE_STEPS
            if budget.left < 0:
                raise budget.overrun()
            return known[1]
        stack: list[Any] = [value]
        nodes = chars = 0
        room = budget.left // NODE_STEPS
        while stack:
            item = stack.pop()
            nodes += 1
            if isinstance(item, dict):
                stack.extend(item)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                chars += len(item)
            if nodes > room:
                raise budget.overrun()
        budget.left -= nodes * NODE_STEPS
        size = chars + 2 * nodes
        if memo:
            self._weights[id(value)] = (nodes, size)
        return size

    def _as_text(self, value: Any) -> str:
        if isinstance(value, str):
            return value
        if value is None:
            return MISSING
        if isinstance(value, bool):
            return BOOL_TEXT[value]
        if isinstance(value, dict | list):
            text = self._texts.get(id(value))
            if text is None:
                self._weigh(value, memo=True)
                text = self._texts[id(value)] = _dumps(value)
            return text
        if type(value) is int:
            return str(value)
        return _dumps(value)

    def text(self, pieces: tuple[str | tuple[Segment, ...], ...]) -> str:
        out: list[str] = []
        for piece in pieces:
            if isinstance(piece, str):
                text = piece
            else:
                self.budget.left -= EXPRESSION_STEPS
                matches = find(piece, self.payload, self.budget)
                if not matches:
                    text = MISSING
                elif len(matches) == 1:
                    text = self._as_text(matches[0])
                else:
                    self.budget.spend(len(matches) * MATCH_STEPS)
                    text = MATCH_SEPARATOR.join([self._as_text(match) for match in matches])
            self._emit(len(text))
            out.append(text)
        return "".join(out)

    def typed(self, path: tuple[Segment, ...]) -> Any:
        self.budget.left -= EXPRESSION_STEPS
        matches = find(path, self.payload, self.budget)
        value: Any = None if not matches else matches[0] if len(matches) == 1 else matches
        if isinstance(value, str):
            self._emit(len(value) + 2)
        elif isinstance(value, dict | list):
            self._emit(self._weigh(value, memo=value is not matches))
        else:
            self._emit(4)
        return value

    def render(self, node: Any) -> Any:
        budget = self.budget
        budget.left -= TEMPLATE_NODE_STEPS
        if budget.left < 0:
            raise budget.overrun()
        kind = type(node)
        if kind is str:  # literal text: its size is bounded by the template's, no need to pay it
            self.size += len(node) + 2
            return node
        if kind is _Expr:
            return self.typed(node.path)
        if kind is _Text:
            return self.text(node.pieces)
        if kind is _Object:
            return {
                key if type(key) is str else self.text(key.pieces): self.render(value)
                for key, value in node.items
            }
        if kind is tuple:
            return [self.render(item) for item in node]
        if kind is _Literal:
            budget.spend(node.nodes * LITERAL_NODE_STEPS)
            text = node.text
            self.size += len(text)
            return json.loads(text)
        self.size += 4
        return node


def _render(template: str | dict[str, Any] | list[Any], payload: Any, budget: Budget) -> tuple[Any, str]:
    """The rendered document and its compact JSON text (at most MAX_OUTPUT_BYTES characters)."""
    document = _Renderer(payload, budget).render(compile_template(template))
    text = _encode(document)
    if len(text) > MAX_OUTPUT_BYTES:
        raise TemplateError(f"rendered template is larger than {MAX_OUTPUT_BYTES // 1024} KiB")
    return document, text


def render_template(
    template: str | dict[str, Any] | list[Any], payload: Any, *, max_steps: int = DEFAULT_MAX_STEPS
) -> Any:
    """Apply ``template`` to ``payload``; TemplateError with a readable message when it cannot,
    TemplateBudgetError when it needs more than ``max_steps`` steps of work."""
    document, text = _render(template, payload, Budget(max_steps))
    if len(text.encode("utf-8", "surrogatepass")) > MAX_OUTPUT_BYTES:
        raise TemplateError(f"rendered template is larger than {MAX_OUTPUT_BYTES // 1024} KiB")
    return document


def _render_json(template: str | dict[str, Any] | list[Any], payload: Any, budget: Budget) -> bytes:
    text = _render(template, payload, budget)[1]
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:
        raise TemplateError("the payload holds text that is not Unicode (a lone surrogate)") from None
    if len(body) > MAX_OUTPUT_BYTES:
        raise TemplateError(f"rendered template is larger than {MAX_OUTPUT_BYTES // 1024} KiB")
    return body


def render_json(
    template: str | dict[str, Any] | list[Any], payload: Any, *, max_steps: int = DEFAULT_MAX_STEPS
) -> bytes:
    """The rendered document as the compact UTF-8 JSON a webhook sends; errors as ``render_template``."""
    return _render_json(template, payload, Budget(max_steps))


_executor: ThreadPoolExecutor | None = None


def _thread() -> ThreadPoolExecutor:
    """One thread for large renderings: CPU work gains nothing from more under the GIL, and one
    thread keeps the event loop's wait for the GIL to a single switch interval."""
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="regnotify-template")
    return _executor


async def in_template_thread(function: Callable[..., Result], *args: Any) -> Result:
    """``function(*args)`` in the thread large renderings use, off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(_thread(), partial(function, *args))


async def render_body(template: str, payload: Any, *, max_steps: int = DEFAULT_MAX_STEPS) -> bytes:
    """``render_json`` without blocking the event loop for more than about a millisecond.

    A template renders on the loop with a budget of INLINE_STEPS when it is short or already parsed;
    a long one seen for the first time, or one that needs more work, renders (again, from the start)
    in the template thread with the full budget. That thread holds the GIL for at most Python's
    switch interval (5 ms) at a time while the loop waits for it."""
    inline = min(INLINE_STEPS, max_steps)
    if len(template) <= INLINE_TEMPLATE_CHARS or template in _compiled:
        try:
            return render_json(template, payload, max_steps=inline)
        except TemplateBudgetError:
            if inline >= max_steps:
                raise
    return await in_template_thread(_render_json, template, payload, Budget(max_steps))
