"""The event catalogue: every repository event kind regnotify knows, by name, in Quay's order, with the
scan kinds of our own next to vulnerability_found (the UI's event list shows them in this order)."""

from __future__ import annotations

from regnotify.events.base import (
    EventConfigError,
    EventError,
    EventFilter,
    EventKind,
    Level,
    PayloadError,
    RepositoryRef,
    UnknownEventError,
)
from regnotify.events.build import BuildCancelled, BuildFailure, BuildQueued, BuildStart, BuildSuccess
from regnotify.events.expiry import ImageExpiry
from regnotify.events.mirror import MirrorSyncFailed, MirrorSyncStarted, MirrorSyncSuccess
from regnotify.events.payload import short
from regnotify.events.push import RepoPush
from regnotify.events.scan import ScanCompleted, ScanFailed
from regnotify.events.vulnerability import VulnerabilityFound

EVENT_KINDS: dict[str, EventKind] = {
    kind.name: kind
    for kind in (
        RepoPush(),
        BuildQueued(),
        BuildStart(),
        BuildSuccess(),
        BuildFailure(),
        BuildCancelled(),
        VulnerabilityFound(),
        ScanCompleted(),
        ScanFailed(),
        MirrorSyncStarted(),
        MirrorSyncSuccess(),
        MirrorSyncFailed(),
        ImageExpiry(),
    )
}


def get_event_kind(name: str) -> EventKind:
    """The event kind called ``name``; UnknownEventError listing the valid names if there is none."""
    kind = EVENT_KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise UnknownEventError(f"unknown event '{short(str(name))}'; valid events: {', '.join(EVENT_KINDS)}")
    return kind


__all__ = [
    "EVENT_KINDS",
    "EventConfigError",
    "EventError",
    "EventFilter",
    "EventKind",
    "Level",
    "PayloadError",
    "RepositoryRef",
    "UnknownEventError",
    "get_event_kind",
]
