"""Event-config filters: the keys a notification's eventConfig may hold, as Quay's plus ``tag-patterns``.

- ``ref-regex`` (build events): fire only for builds whose git ref ``re.match``-es the regex.
- ``level`` (vulnerability_found): fire only for vulnerabilities at least this severe, or always
  when ``vulnerable_index_report_created`` is set (true, or the string "true" as Quay sends it).
  (scan_completed): fire only for scans whose ``highest_severity`` is at least this severe; a scan
  that found nothing ("None") never passes a level.
- ``days`` (repo_image_expiry, required): fire for tags expiring within this many days.
- ``tag-patterns`` (repo_push, vulnerability_found): fire only when a tag matches one of these globs.

User-supplied patterns run in bounded time (issue 12, "Isolation"):

- ``ref-regex`` keeps Python's syntax and ``re.match``'s meaning (anchored at the start only) but is
  matched by RE2 (``linear_regex``), never by Python's backtracking ``re``. At create, a pattern
  Python's ``re`` rejects is refused with Python's message, and one RE2 cannot run in linear time is
  refused naming the construct (a backreference, a lookaround, ...).
- A ref-regex stored before that check that RE2 cannot run fails visibly: the filter matches no
  build, so the notification fires for none (it never falls back to Python's ``re``), and a warning
  naming the pattern and the reason is logged once per pattern (remembered in a bounded LRU, so
  memory stays bounded and a pattern evicted from it may be logged again). Re-saving the
  notification shows the reason as a 400.
- ``tag-patterns`` stay ``fnmatch.fnmatchcase``: Python 3.11 translates each ``*X`` of a glob into
  an atomic group ``(?>.*?X)`` (3.9 and 3.10 emulated one), which cannot backtrack, so a tag and a
  glob cost at most the product of their lengths: ``*a*a*a*a*a*a*a*a*a*b`` against 255 ``a`` takes
  well under a millisecond. RE2 was measured slower on hostile globs such as ``*a???...?b`` (its
  DFA gives up on them and its NFA costs tag bytes x program size): 50 such globs against 1,000
  tags of 128 characters took fnmatch ~0.3 s and RE2 several seconds.
"""

from __future__ import annotations

import fnmatch
import functools
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import regnotify.events.linear_regex as linear_regex
from regnotify.events.base import EventConfigError, EventFilter
from regnotify.events.priorities import PRIORITIES, priority_index
from regnotify.events.reading import field, is_unicode_text, strings

MAX_REGEX_LENGTH = 512
MAX_PATTERNS = 50
MAX_PATTERN_LENGTH = 255
MIN_DAYS, MAX_DAYS = 1, 365

RE2_NOTE = (
    "ref-regex is matched by RE2, in time linear in the ref (https://github.com/google/re2/wiki/Syntax)"
)
UNRUNNABLE_WARNINGS = 1024  # stored patterns RE2 cannot run, remembered so each is logged once

logger = logging.getLogger(__name__)

_EXPIRING_IN = re.compile(r"\s*([0-9]{1,6})\s+days?\s*", re.IGNORECASE)
_SMALL_NUMBER = re.compile(r"[0-9]{1,6}")


def type_name(value: object) -> str:
    """The JSON name of ``value``'s type, for error messages."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, int | float) else type(value).__name__)


class RefRegexFilter(EventFilter):
    """``ref-regex``: blank fires always; otherwise trigger_metadata.ref must exist and match."""

    key: ClassVar[str] = "ref-regex"

    def normalize(self, value: object, event: str) -> str | None:
        if not isinstance(value, str):
            raise EventConfigError(
                f"ref-regex must be a string (a regular expression matched against the git ref, "
                f"e.g. ^refs/heads/main$), not {type_name(value)}"
            )
        if not value.strip():
            return None
        if len(value) > MAX_REGEX_LENGTH:
            raise EventConfigError(
                f"ref-regex is too long: {len(value)} characters; at most {MAX_REGEX_LENGTH} are allowed"
            )
        if not is_unicode_text(value):
            raise EventConfigError("ref-regex must be Unicode text, not a lone surrogate such as \\ud800")
        try:  # compiled only, for Python's syntax and messages; never matched with Python's re
            re.compile(value)
        except (re.error, RecursionError, OverflowError) as exc:
            raise EventConfigError(f"ref-regex is not a valid regular expression: {exc}") from None
        try:
            linear_regex.check(value)
        except linear_regex.PatternError as exc:
            raise EventConfigError(f"ref-regex {exc}; {RE2_NOTE}") from None
        return value

    def matches(self, value: object, payload: Mapping[str, Any]) -> bool:
        if not isinstance(value, str):
            return False
        if not value.strip():
            return True
        ref = field(payload, "trigger_metadata", "ref")
        if not isinstance(ref, str):
            return False
        matched = linear_regex.match_start(value, ref)
        if matched is None:
            warn_unrunnable(value)
            return False
        return matched

    def work(self, value: object, payload: Mapping[str, Any]) -> int:
        """RE2 is linear, but its slowest programs (1,000 instructions) take up to ~20 µs a character
        of ref: four steps a character keeps what runs on the loop under about 10 ms."""
        ref = field(payload, "trigger_metadata", "ref")
        return 1 + (4 * len(ref) if isinstance(ref, str) and isinstance(value, str) else 0)


@functools.lru_cache(maxsize=UNRUNNABLE_WARNINGS)
def warn_unrunnable(pattern: str) -> None:
    """Log, once per pattern while it is remembered, that a stored ref-regex fires for no build."""
    reason = linear_regex.compiled(pattern)
    shown = pattern if len(pattern) <= 100 else pattern[:100] + "…"
    logger.warning(
        "stored ref-regex %r %s; notifications holding it fire for no build until it is changed",
        shown,
        reason if isinstance(reason, str) else "cannot be run",
    )


def level_index(value: object) -> int | None:
    """A level as its priority index 0..5 from an int, a numeric string or a priority name; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 <= value < len(PRIORITIES) else None
    if isinstance(value, str):
        stripped = value.strip()
        if _SMALL_NUMBER.fullmatch(stripped):
            return level_index(int(stripped))
        return priority_index(stripped)
    return None


def index_report_created(value: object) -> bool:
    """Whether ``vulnerable_index_report_created`` is set: True, or the string "true" in any case as
    Quay's security worker sends it. False, "false" and anything else are not set."""
    return value is True or (isinstance(value, str) and value.lower() == "true")


class SeverityLevelFilter(EventFilter):
    """``level``: fire for events whose severity (a priority name at ``severity_path`` in the payload)
    has a priority index at most this one (0 = Critical). A payload without a priority there (for a
    scan, "None": nothing was found) does not fire."""

    key: ClassVar[str] = "level"

    def __init__(self, severity_path: tuple[str, ...], fires_for: str) -> None:
        self.severity_path = severity_path
        self.fires_for = fires_for  # the end of "notifications fire for ...", in the refusal's message

    def normalize(self, value: object, event: str) -> object:
        """The level as it was sent (``1``, ``"1"``, ``"High"``), once it names a priority: Quay
        stores it verbatim, and tools that compare what they sent with what they read rely on it."""
        index = level_index(value)
        if index is None:
            choices = ", ".join(f"{name} ({i})" for i, name in enumerate(PRIORITIES))
            raise EventConfigError(
                f"level must be a vulnerability priority name or its number: one of {choices}; "
                f"notifications fire for {self.fires_for}"
            )
        return value

    def matches(self, value: object, payload: Mapping[str, Any]) -> bool:
        threshold = level_index(value)
        actual = priority_index(field(payload, *self.severity_path))
        if threshold is None or actual is None:
            return False
        return actual <= threshold


class VulnerabilityLevelFilter(SeverityLevelFilter):
    """``level`` of vulnerability_found: the vulnerability's priority, or always when the payload says
    ``vulnerable_index_report_created``."""

    def __init__(self) -> None:
        super().__init__(("vulnerability", "priority"), "vulnerabilities of that priority or more severe")

    def matches(self, value: object, payload: Mapping[str, Any]) -> bool:
        if index_report_created(payload.get("vulnerable_index_report_created")):
            return True
        return super().matches(value, payload)


class TagPatternsFilter(EventFilter):
    """``tag-patterns``: fire when any of the event's tags matches any glob (fnmatch, case-sensitive)."""

    key: ClassVar[str] = "tag-patterns"

    def __init__(self, tags_field: str) -> None:
        self.tags_field = tags_field

    def normalize(self, value: object, event: str) -> list[str] | None:
        if not isinstance(value, list):
            raise EventConfigError(
                f'tag-patterns must be a list of tag globs such as ["v*", "latest"], not {type_name(value)}'
            )
        if not value:
            return None
        if len(value) > MAX_PATTERNS:
            raise EventConfigError(
                f"tag-patterns has {len(value)} patterns; at most {MAX_PATTERNS} are allowed"
            )
        patterns: list[str] = []
        for position, pattern in enumerate(value):
            if not isinstance(pattern, str) or not 1 <= len(pattern) <= MAX_PATTERN_LENGTH:
                raise EventConfigError(
                    f"tag-patterns[{position}] must be a glob string of 1 to {MAX_PATTERN_LENGTH} characters"
                )
            if not is_unicode_text(pattern):
                raise EventConfigError(f"tag-patterns[{position}] must be Unicode text, not a lone surrogate")
            if pattern not in patterns:
                patterns.append(pattern)
        return patterns

    def matches(self, value: object, payload: Mapping[str, Any]) -> bool:
        if not isinstance(value, list):
            return False
        if not value:
            return True
        patterns = [p for p in value if isinstance(p, str)]
        tags = strings(payload, self.tags_field)
        return any(fnmatch.fnmatchcase(tag, pattern) for tag in tags for pattern in patterns)

    def work(self, value: object, payload: Mapping[str, Any]) -> int:
        """One glob against one tag is a step (fnmatch cannot backtrack, but 50 × 1,000 adds up)."""
        patterns = len(value) if isinstance(value, list) else 0
        return 1 + patterns * len(strings(payload, self.tags_field))


def days_value(value: object) -> int | None:
    """A day count from an int or a numeric string, when within 1..365; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _SMALL_NUMBER.fullmatch(value.strip()):
        value = int(value.strip())
    if isinstance(value, int) and MIN_DAYS <= value <= MAX_DAYS:
        return value
    return None


def expiring_in_days(value: object) -> int | None:
    """N from Quay's ``expiring_in`` form "N days" (or "N day"); None when it is not in that form."""
    if not isinstance(value, str):
        return None
    found = _EXPIRING_IN.fullmatch(value)
    return int(found.group(1)) if found else None


class ExpiryDaysFilter(EventFilter):
    """``days`` (required): fire for tags that expire within this many days."""

    key: ClassVar[str] = "days"
    required: ClassVar[bool] = True

    def normalize(self, value: object, event: str) -> int:
        days = days_value(value)
        if days is None:
            raise EventConfigError(f"days must be a whole number of days from {MIN_DAYS} to {MAX_DAYS}")
        return days

    def matches(self, value: object, payload: Mapping[str, Any]) -> bool:
        days = days_value(value)
        expiring = expiring_in_days(payload.get("expiring_in"))
        if days is None or expiring is None:
            return False
        return expiring <= days

    def missing_message(self, event: str) -> str:
        return f"days is required for {event}: how many days before a tag expires to notify"
