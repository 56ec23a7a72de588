"""The Test button: queue the event's sample data for one notification alone, whatever its filter or
state, at most ``test_calls_per_minute`` times a minute per notification (a test sends for real)."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db.models import Delivery, Notification, Repository
from regnotify.db.types import utcnow
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from regnotify.notifications.audit import TESTED, record_change


class TestRateLimited(Exception):
    """The notification was tested too often in the last minute."""

    def __init__(self, per_minute: int, retry_after: int) -> None:
        super().__init__(
            f"this notification was tested {per_minute} times in the last minute; "
            f"try again in {retry_after} s"
        )
        self.retry_after = retry_after


async def queue_test_delivery(
    session: AsyncSession,
    repository: Repository,
    notification: Notification,
    settings: Settings,
    performer: str,
) -> Delivery:
    """Record a test event carrying the kind's sample payload (made for the notification's event
    config, as Quay's ``get_sample_data``); its one delivery goes to ``notification``.

    Raises ``TestRateLimited`` past the per-minute limit. Logged as a change by ``performer``."""
    wait = await test_call_wait(session, notification, settings.test_calls_per_minute)
    if wait is not None:
        raise TestRateLimited(settings.test_calls_per_minute, wait)
    kind = get_event_kind(notification.event)
    recorded = await record_event(
        session,
        repository,
        kind,
        kind.sample_payload(repository_ref(repository, settings), notification.event_config),
        source=f"test:{performer}",
        test_for=notification,
    )
    delivery, _ = recorded.deliveries[0]
    record_change(session, repository.id, notification, TESTED, performer, delivery=delivery.uuid)
    return delivery


async def test_call_wait(session: AsyncSession, notification: Notification, per_minute: int) -> int | None:
    """Seconds until ``notification`` may be tested again, or None when it may be now.

    Counted from its test deliveries in the last minute, so every API process and the web UI share
    the limit."""
    since = utcnow() - timedelta(seconds=60)
    recent = list(
        await session.scalars(
            select(Delivery.created_at)
            .where(
                Delivery.notification_id == notification.id,
                Delivery.is_test.is_(True),
                Delivery.created_at > since,
            )
            .order_by(Delivery.created_at)
        )
    )
    if len(recent) < per_minute:
        return None
    oldest_counted = recent[len(recent) - per_minute]
    return max(1, math.ceil((oldest_counted - since).total_seconds()))
