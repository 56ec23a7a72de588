"""The ``repo_image_expiry`` scan over the tag expirations ``ingest.expirations`` records.

A registry or tool records when a tag expires (``PUT …/tag/{tag}/expiration``). The periodic jobs scan
every minute or so: each enabled ``repo_image_expiry`` notification gets one event for the tags
whose expiry falls within its ``days``, once per (notification, tag, expiry): a tag notifies again
only when its expiry changes. The notice rows are written in the transaction that queues the
delivery, so a failed send is retried by the queue, never lost (Quay records them before sending).
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import ExpiryNotice, Notification, Repository, TagExpiration
from regnotify.db.types import utcnow
from regnotify.events import get_event_kind
from regnotify.ingest.recording import record_event, repository_ref

log = logging.getLogger(__name__)


async def _scan_one(
    session: AsyncSession, notification: Notification, settings: Settings, now: datetime
) -> bool:
    days = notification.event_config.get("days")
    if not isinstance(days, int) or isinstance(days, bool) or days < 1:
        return False
    expiring = list(
        await session.scalars(
            select(TagExpiration).where(
                TagExpiration.repository_id == notification.repository_id,
                TagExpiration.expires_at > now,
                TagExpiration.expires_at <= now + timedelta(days=days),
            )
        )
    )
    noticed = {
        (tag, when)
        for tag, when in (
            await session.execute(
                select(ExpiryNotice.tag, ExpiryNotice.expires_at).where(
                    ExpiryNotice.notification_id == notification.id
                )
            )
        ).all()
    }
    due = [row for row in expiring if (row.tag, row.expires_at) not in noticed]
    if not due:
        return False
    repository = await session.get(Repository, notification.repository_id)
    assert repository is not None
    kind = get_event_kind("repo_image_expiry")
    payload = kind.build_payload(
        repository_ref(repository, settings),
        {"tags": sorted(row.tag for row in due), "expiring_in": f"{days} days"},
    )
    await record_event(session, repository, kind, payload, source="expiry-scan", only_for=notification)
    session.add_all(
        [ExpiryNotice(notification_id=notification.id, tag=row.tag, expires_at=row.expires_at) for row in due]
    )
    await session.flush()
    return True


async def scan_expiries(db: Database, settings: Settings, *, now: datetime | None = None) -> int:
    """Queue ``repo_image_expiry`` events that are due; returns how many were queued."""
    now = now or utcnow()
    async with db.read() as session:
        ids = list(
            await session.scalars(
                select(Notification.id).where(
                    Notification.event == "repo_image_expiry", Notification.enabled.is_(True)
                )
            )
        )
    queued = 0
    for notification_id in ids:
        try:
            async with db.write() as session:
                notification = await session.get(Notification, notification_id)
                if notification is not None and notification.enabled:
                    queued += await _scan_one(session, notification, settings, now)
        except IntegrityError:  # another worker queued the same notices first
            log.info("expiry scan: notification %s was handled by another worker", notification_id)
    return queued
