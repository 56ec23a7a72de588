"""Vulnerability priorities, most severe first, as Quay orders them (util/secscan: index 0 is Critical)."""

from __future__ import annotations

PRIORITIES: tuple[str, ...] = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")

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
