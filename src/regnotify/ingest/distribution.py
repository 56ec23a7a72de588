"""CNCF Distribution notification envelopes: which events are tag pushes, and why the rest are not.

Distribution posts ``{"events": [...]}`` (media type ``…events.v1+json``, several unrelated
events), one event per body in 3.x (``…events.v2+json``), or plain JSON. Only a manifest push
with a tag becomes a ``repo_push``; pushes by digest alone (the platform manifests of a
multi-arch push, whose index then arrives with the tag), blob pushes, pulls, mounts and deletes
are counted and ignored. Unknown fields are ignored. Parsing never raises on any JSON value.
Nothing it passes on holds text a database cannot store (PostgreSQL takes no NUL characters, UTF-8
no lone surrogates): an event id or repository with such text is rejected, a request host with it
ignored, and the tag and digest patterns exclude it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from regnotify.events.reading import is_unicode_text

MANIFEST_MEDIA_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.docker.distribution.manifest.v1+json",
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        "application/vnd.oci.artifact.manifest.v1+json",
    }
)
DIGEST_RE = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
MAX_EXCERPT = 2000
# Distribution posts one event per envelope or a handful; a body holding more is not a registry's.
MAX_ENVELOPE_EVENTS = 1000
NUL_REFUSED = "holds a NUL character (\\u0000): NUL characters are not allowed"  # PostgreSQL stores none


@dataclass(frozen=True)
class TagPush:
    event_id: str | None
    repository: str
    tag: str
    digest: str
    request_host: str | None


@dataclass(frozen=True)
class Skipped:
    """An event not meant to notify (``ignored``) or one that could not be used (``rejected``)."""

    event_id: str | None
    rejected: bool
    reason: str
    excerpt: str


def excerpt(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_EXCERPT else text[:MAX_EXCERPT] + "…"


def envelope_events(body: Any) -> list[Any] | None:
    """The events in a body, or None when the body is not an envelope or an event at all."""
    if isinstance(body, dict) and isinstance(body.get("events"), list):
        return list(body["events"])
    if isinstance(body, dict) and "action" in body:
        return [body]  # one event per body (Distribution 3's v2 media type)
    if isinstance(body, list):
        return list(body)
    return None


def _text(mapping: Any, key: str) -> str | None:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, str) and value else None


def classify(event: Any) -> TagPush | Skipped:
    """What one Distribution event means for notifications."""
    if not isinstance(event, dict):
        return Skipped(None, True, "an event must be a JSON object", excerpt(event))
    event_id = _text(event, "id")
    if event_id is not None and len(event_id) > 255:
        return Skipped(None, True, "event id longer than 255 characters", excerpt(event))
    if event_id is not None and not is_unicode_text(event_id):
        return Skipped(None, True, "event id is not Unicode text (it holds a lone surrogate)", excerpt(event))
    if event_id is not None and "\x00" in event_id:  # PostgreSQL stores no NUL in text
        return Skipped(None, True, f"event id {NUL_REFUSED}", excerpt(event))
    action = _text(event, "action")
    if action != "push":
        return Skipped(event_id, False, f"action {action or '(none)'} does not notify", "")
    target = event.get("target")
    if not isinstance(target, dict):
        return Skipped(event_id, True, "push without a target", excerpt(event))
    media_type = (_text(target, "mediaType") or "").split(";")[0].strip()
    if media_type not in MANIFEST_MEDIA_TYPES:
        return Skipped(event_id, False, f"push of {media_type or 'a blob'} (not a manifest)", "")
    tag = _text(target, "tag")
    if tag is None:
        return Skipped(event_id, False, "manifest pushed by digest only", "")
    repository = _text(target, "repository")
    digest = _text(target, "digest")
    if repository is None or digest is None:
        return Skipped(event_id, True, "tag push without repository or digest", excerpt(event))
    if "\x00" in repository:
        return Skipped(event_id, True, f"repository {NUL_REFUSED}", excerpt(event))
    if not TAG_RE.match(tag):
        return Skipped(event_id, True, f"invalid tag {tag[:130]!r}", excerpt(event))
    if not DIGEST_RE.match(digest) or len(digest) > 255:
        return Skipped(event_id, True, f"invalid digest {digest[:80]!r}", excerpt(event))
    request_host = _text(event.get("request"), "host")
    if request_host is not None and (not is_unicode_text(request_host) or "\x00" in request_host):
        request_host = None
    return TagPush(event_id, repository, tag, digest, request_host[:255] if request_host else None)
