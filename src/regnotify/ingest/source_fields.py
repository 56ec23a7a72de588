"""Reading one field of a source's payload: text a database can store, tags, digests, hosts, and the
stable id of an event its source gives none.

Every source's parser reads untrusted JSON; these helpers return None for anything that is not
usable text (not a string, empty, a NUL character that PostgreSQL cannot store, a lone surrogate
that UTF-8 cannot encode) instead of raising, so a parser says in one place why an event is refused.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import urlsplit

from regnotify.events.priorities import canonical_priority
from regnotify.events.reading import is_unicode_text
from regnotify.events.scan import NOTHING_FOUND, highest_severity
from regnotify.ingest.distribution import DIGEST_RE, TAG_RE

MAX_EXTERNAL_ID = 255  # the events.external_id column
MAX_HOST = 255


def text_at(mapping: Any, *path: str) -> str | None:
    """The non-empty string at ``path`` in nested objects, if it is text a database can store."""
    value = mapping
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    if not isinstance(value, str) or not value or "\x00" in value or not is_unicode_text(value):
        return None
    return value


def unusable_text_at(mapping: Any, *path: str) -> bool:
    """Whether ``path`` holds a non-empty string that is not text a database can store (a NUL
    character, a lone surrogate): such a field is refused, where a missing one may be ignored."""
    value = mapping
    for key in path:
        if not isinstance(value, dict):
            return False
        value = value.get(key)
    return isinstance(value, str) and bool(value) and text_at(value) is None


UNUSABLE_TEXT = "holds a NUL character or a lone surrogate, which cannot be stored"


def count_at(mapping: Any, *path: str) -> int | None:
    """The whole number at ``path`` (not a bool), if there is one."""
    value = mapping
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def is_digest(reference: str) -> bool:
    """Whether a "tag" a source sent is really a manifest digest (``sha256:…``): Harbor puts the
    digest there for pushes by digest, zot for untagged manifests."""
    return reference.startswith("sha256:") or DIGEST_RE.match(reference) is not None


def valid_tag(tag: str) -> bool:
    return TAG_RE.match(tag) is not None


def valid_digest(digest: str) -> bool:
    return len(digest) <= 255 and DIGEST_RE.match(digest) is not None


def severity_name(value: str | None, counts: dict[str, int]) -> str:
    """A scan's highest severity as ``scan_completed`` names it (a priority, or "None" when nothing
    was found) from the scanner's word for it in any case; from the counts when it gives none we know."""
    if value is not None and value.strip().lower() == NOTHING_FOUND.lower():
        return NOTHING_FOUND
    return canonical_priority(value) or highest_severity(counts)


def host_of_reference(reference: str | None) -> str | None:
    """The registry host of a pull reference without a scheme (``harbor.example.com/lib/app:v1``)."""
    if reference is None or "/" not in reference:
        return None
    return _host(reference.split("/", 1)[0])


def host_of_url(url: str | None) -> str | None:
    """The host (and port) of an absolute URL such as ``https://registry.example.com``, else None."""
    if url is None:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return _host(parts.netloc.rpartition("@")[2])


def _host(host: str) -> str | None:
    if not host or len(host) > MAX_HOST or any(c.isspace() for c in host) or "\x00" in host:
        return None
    return host if is_unicode_text(host) else None


def derived_id(prefix: str, value: Any) -> str:
    """A stable event id for an event its source sends without one: ``prefix:`` and the SHA-256
    of the event's canonical JSON (a retry, which resends the same body, gets the same id)."""
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return f"{prefix}:{hashlib.sha256(canonical.encode()).hexdigest()}"


def bounded_id(value: str, prefix: str) -> str:
    """``value`` as an event id when it fits the column, else ``prefix:`` and its SHA-256."""
    if len(value) <= MAX_EXTERNAL_ID:
        return value
    return f"{prefix}:{hashlib.sha256(value.encode('utf-8', 'surrogatepass')).hexdigest()}"
