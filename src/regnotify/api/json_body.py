"""JSON bodies that routes read by hand (the registry receiver, report imports): a clear 400 per fault."""

from __future__ import annotations

import json
from typing import Any

from regnotify.api.errors import MAX_BODY_DEPTH, NOT_UTF8, TOO_DEEP, ApiError


def depth(value: Any) -> int:
    """How many levels of arrays and objects ``value`` nests (0 for a scalar), without recursing."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level + 1)
            if level + 1 <= MAX_BODY_DEPTH:
                stack.extend((child, level + 1) for child in item)
    return deepest


def parse_json_body(body: bytes, what: str) -> Any:
    """The parsed body; ApiError 400 when it is not UTF-8, not JSON, or nested too deeply.

    ``what`` completes "send ...": what the route expects, e.g. "a Distribution notification envelope".
    """
    try:
        text = body.decode("utf-8-sig")  # not json.loads' guess, which takes a leading NUL for UTF-16
    except UnicodeDecodeError:
        raise ApiError(400, f"{NOT_UTF8} ({what})") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise ApiError(400, TOO_DEEP) from None
    except ValueError:
        raise ApiError(400, f"the body is not JSON: send {what}") from None
    if depth(value) > MAX_BODY_DEPTH:
        raise ApiError(400, TOO_DEEP)
    return value
