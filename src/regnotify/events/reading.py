"""Defensive readers for stored and received payloads, so rendering and parsing never fail on an old or
odd payload."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def field(payload: Any, *path: str) -> Any:
    """The value at ``path`` inside nested mappings, or None when any step is missing."""
    current = payload
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def text(payload: Any, *path: str, default: str = "") -> str:
    """The string at ``path``; numbers are shown as text; anything else gives ``default``."""
    value = field(payload, *path)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return default


def integer(payload: Any, *path: str) -> int | None:
    """The whole number at ``path`` (not a boolean), or None."""
    value = field(payload, *path)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def strings(payload: Any, *path: str) -> list[str]:
    """The strings of a list at ``path`` (or the keys of a mapping there), other items skipped."""
    value = field(payload, *path)
    if isinstance(value, Mapping):
        value = list(value)
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, str)]


def first_line(value: str) -> str:
    """The first non-blank line of ``value``, stripped."""
    for line in value.splitlines():
        if line.strip():
            return line.strip()
    return ""


def repository(payload: Any) -> str:
    return text(payload, "repository", default="(unknown repository)")


def build_id7(payload: Any) -> str:
    return text(payload, "build_id")[:7]


def tag_list(tags: list[str], limit: int = 20) -> str:
    """``a, b, c`` or ``a, b (and 5 more)`` for plain-text messages."""
    shown = ", ".join(tags[:limit])
    return shown + (f" (and {len(tags) - limit} more)" if len(tags) > limit else "")


def is_unicode_text(value: str) -> bool:
    """False for text holding a lone surrogate (JSON's ``\\ud800``): UTF-8 cannot store or send it."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
