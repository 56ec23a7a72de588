"""Storing an event and matching it to notifications: one transaction, so nothing is half-done.

The event row and one delivery row (the outbox) per enabled notification of the repository
whose event kind and filter match are written together. An ``external_id`` makes a re-post
of the same source event return the first one instead of notifying twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db.models import Delivery, Event, Notification, Repository
from regnotify.db.types import utcnow
from regnotify.db.upsert import dialect_of, insert_unless_present
from regnotify.db.wakeup import announce
from regnotify.events import EventKind, RepositoryRef
from regnotify.events.base import PayloadStyle
from regnotify.ingest.matching import matching_notifications
from regnotify.runtime.metrics import count_recorded_event


class EventConflict(ValueError):
    """An event id was reused for a different event."""

    @classmethod
    def reused(cls, external_id: str) -> EventConflict:
        return cls(
            f"event id {external_id!r} was already used for a different event; use a new id for a new event"
        )


@dataclass
class Recorded:
    event: Event
    deliveries: list[tuple[Delivery, Notification]]
    duplicate: bool


DEFAULT_REGISTRY_HOST = "localhost:5000"


def repository_ref(
    repository: Repository, settings: Settings, *, registry_host: str | None = None
) -> RepositoryRef:
    """Where the repository is pulled from and seen: the configured registry host, else the one
    the event came through (``registry_host``), else Distribution's default; and the payload style
    the operator chose (``updated_tags_format``)."""
    return RepositoryRef(
        namespace=repository.namespace,
        name=repository.name,
        registry_host=settings.registry_host or registry_host or DEFAULT_REGISTRY_HOST,
        base_url=settings.base_url,
        visibility=repository.visibility,
        style=PayloadStyle(updated_tags=settings.updated_tags_format),
    )


async def _deliveries_of(session: AsyncSession, event: Event) -> list[tuple[Delivery, Notification]]:
    rows = await session.execute(
        select(Delivery, Notification)
        .join(Notification, Notification.id == Delivery.notification_id)
        .where(Delivery.event_id == event.id)
        .order_by(Delivery.id)
    )
    return [(delivery, notification) for delivery, notification in rows.all()]


async def _existing(session: AsyncSession, repository: Repository, external_id: str) -> Event | None:
    return await session.scalar(
        select(Event).where(Event.repository_id == repository.id, Event.external_id == external_id)
    )


def _same(event: Event, kind: EventKind, payload: dict[str, Any]) -> bool:
    return event.kind == kind.name and event.payload == payload


ENABLED_NOTIFICATIONS = (
    select(Notification)
    .where(
        Notification.repository_id.in_(bindparam("repository_ids", expanding=True)),
        Notification.event == bindparam("kind"),
        Notification.enabled.is_(True),
    )
    .order_by(Notification.id)
)


async def enabled_notifications(
    session: AsyncSession, repository_ids: Collection[int], kind: str
) -> dict[int, list[Notification]]:
    """The enabled notifications for events of ``kind`` in each of the repositories, in id order."""
    found: dict[int, list[Notification]] = {}
    if repository_ids:
        rows = await session.scalars(
            ENABLED_NOTIFICATIONS, {"repository_ids": list(repository_ids), "kind": kind}
        )
        for notification in rows:
            found.setdefault(notification.repository_id, []).append(notification)
    return found


async def _matching_notifications(
    session: AsyncSession, repository: Repository, kind: EventKind, payload: dict[str, Any]
) -> list[Notification]:
    candidates = (await enabled_notifications(session, [repository.id], kind.name)).get(repository.id, [])
    return await matching_notifications(kind, candidates, payload)


async def record_event(
    session: AsyncSession,
    repository: Repository,
    kind: EventKind,
    payload: dict[str, Any],
    *,
    source: str,
    external_id: str | None = None,
    test_for: Notification | None = None,
    only_for: Notification | None = None,
) -> Recorded:
    """Store ``payload`` as an event of ``kind`` and queue its deliveries, in the caller's transaction.

    ``test_for`` records a test event (the test button): one delivery for that notification
    alone, whatever its filter and state says. ``only_for`` records a real event meant for one
    notification alone (the image-expiry scan, which knows whom it is for).
    """
    values = {
        "uuid": str(uuid.uuid4()),
        "repository_id": repository.id,
        "kind": kind.name,
        "payload": payload,
        "source": source,
        "external_id": external_id,
        "is_test": test_for is not None,
        "received_at": utcnow(),
    }
    if external_id is None:
        event = Event(**values)
        session.add(event)
        await session.flush()
    else:
        # One statement stores it unless the source sent this id before (or a concurrent request
        # is storing it now: PostgreSQL waits for that one and then skips ours).
        stored = await session.scalar(
            insert_unless_present(dialect_of(session), Event, ["repository_id", "external_id"])
            .values(values)
            .returning(Event),
            execution_options={"populate_existing": True},
        )
        if stored is None:
            earlier = await _existing(session, repository, external_id)
            if earlier is None or not _same(earlier, kind, payload):
                raise EventConflict.reused(external_id)
            return Recorded(earlier, await _deliveries_of(session, earlier), duplicate=True)
        event = stored

    single = test_for or only_for
    targets = (
        [single] if single is not None else await _matching_notifications(session, repository, kind, payload)
    )
    deliveries = [
        (
            Delivery(
                uuid=str(uuid.uuid4()),
                event_id=event.id,
                notification_id=notification.id,
                is_test=test_for is not None,
            ),
            notification,
        )
        for notification in targets
    ]
    session.add_all([delivery for delivery, _ in deliveries])
    await session.flush()
    if deliveries:
        await announce(session)
    count_recorded_event(session, kind.name, source, len(deliveries))
    return Recorded(event, deliveries, duplicate=False)
