"""What one request of a source (a registry's webhook) comes to, before anything is stored.

A source's parser (``distribution.py``, ``harbor.py``, ``cloudevents.py``, ``dockerhub.py``, ...)
turns the posted body into a ``SourceBatch``: the tag pushes (stored through the tag → digest
window, ``pushes.record_tag_pushes``), the events of other kinds (a scan, a mirror sync: stored
with ``recording.record_event``), the events it refused with their reason, and how many it ignored
(pulls, deletes, pushes by digest: nothing of ours fits). It is plain data, so parsers stay pure
functions; ``api/source_intake.py`` checks the source token's namespaces and stores it. A body that
is not the format at all raises ``NotTheFormat`` (the route's 400).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from regnotify.ingest.distribution import excerpt
from regnotify.ingest.pushes import PushToRecord


class NotTheFormat(ValueError):
    """The body is not the format the route takes at all (not one event of it could be read): the
    route answers 400 with this message, which says what to send. An event that is in the format
    but cannot be used is a ``Rejection`` instead, so it never blocks the sender's later events."""


@dataclass(frozen=True)
class Rejection:
    """An event that could not be used: its id at the source (if any), why, and what was posted."""

    event_id: str | None
    reason: str
    excerpt: str


@dataclass(frozen=True)
class SourceEvent:
    """An event of a kind other than ``repo_push`` for one repository, as a source reports it.

    ``data`` holds the kind's own fields (``EventKind.build_payload``'s input; the repository's
    fields are added when it is stored). ``external_id`` makes a re-post notify once. ``raw`` is the
    event as posted, excerpted into the rejection if it cannot be used."""

    repository: str  # full name, namespace/name
    kind: str  # an event kind's name, e.g. "scan_completed"
    data: Mapping[str, Any]
    external_id: str | None = None
    registry_host: str | None = None  # the host the registry is reached at, for ``docker_url``
    raw: Any = None


@dataclass
class SourceBatch:
    """One request's events, sorted: pushes (with each one's event as posted, excerpted only if it is
    refused), events of other kinds, rejections and the count of ignored events."""

    source: str  # what its events are stored under: ``<channel>:<source token name>``
    pushes: list[PushToRecord] = field(default_factory=list)
    push_raws: list[Any] = field(default_factory=list)  # parallel to ``pushes``
    events: list[SourceEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    ignored: int = 0

    def add_push(self, push: PushToRecord, raw: Any) -> None:
        self.pushes.append(push)
        self.push_raws.append(raw)

    def add_event(self, event: SourceEvent) -> None:
        self.events.append(event)

    def reject(self, event_id: str | None, reason: str, raw: Any) -> None:
        """Refuse an event: ``raw`` (the event as posted) is kept as a short JSON excerpt."""
        self.rejected.append(Rejection(event_id, reason, excerpt(raw)))

    def ignore(self, count: int = 1) -> None:
        self.ignored += count
