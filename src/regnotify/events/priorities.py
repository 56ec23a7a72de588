"""Vulnerability priorities, most severe first, as Quay orders them (util/secscan: index 0 is Critical),
and the message level each one is shown at."""

from __future__ import annotations

from typing import Literal, get_args

from regnotify.events.base import Level

Priority = Literal["Critical", "High", "Medium", "Low", "Negligible", "Unknown"]
PRIORITIES: tuple[str, ...] = get_args(Priority)

_BY_LOWER = {name.lower(): name for name in PRIORITIES}


def canonical_priority(value: object) -> str | None:
    """The priority name in its canonical capitalisation, or None when ``value`` is not one."""
    if not isinstance(value, str):
        return None
    return _BY_LOWER.get(value.strip().lower())


def priority_index(value: object) -> int | None:
    """0 for Critical ... 5 for Unknown; None when ``value`` is not a priority name."""
    name = canonical_priority(value)
    return PRIORITIES.index(name) if name is not None else None


def priority_level(value: object) -> Level:
    """How alarming a finding of this priority looks in a message: Critical is an error, High and
    Medium a warning, anything else (Low, Negligible, Unknown, not a priority) information."""
    priority = canonical_priority(value)
    if priority == "Critical":
        return "error"
    if priority in ("High", "Medium"):
        return "warning"
    return "info"
