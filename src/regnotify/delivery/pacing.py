"""A send rate per notification for chat channels: what is over the rate waits, nothing is dropped.

Chat services throttle each incoming webhook (Slack about one message a second, Discord about 30 a
minute) and drop or refuse what is over. With ``chat_sends_per_minute`` set, a worker sends at
most that many messages per chat notification in any 60 seconds. Deliveries over the rate are
handed back at claim time with a later ``next_attempt_at`` (when the window will have room): no
attempt is made or counted, so they neither fail nor count towards disabling the notification.

The count is the larger of the attempts recorded in the last minute (every worker's) and this
worker's own sends in that minute (including those not yet recorded). One worker keeps the rate
exactly; several may together go a little over it for the few moments their sends overlap.
"""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import datetime, timedelta

from sqlalchemy import func, select, update

from regnotify.db import Database
from regnotify.db.models import Delivery, DeliveryAttempt
from regnotify.db.types import utcnow
from regnotify.delivery.queue import Claimed

CHAT_METHODS = frozenset({"slack", "msteams", "discord", "hipchat", "flowdock"})
WINDOW = timedelta(seconds=60)


def is_paced(item: Claimed) -> bool:
    """Chat deliveries are paced; test calls (rate-limited on their own) are not."""
    return item.notification.method in CHAT_METHODS and not item.is_test


class Pacer:
    def __init__(self, db: Database, per_minute: int | None) -> None:
        self.db = db
        self.per_minute = per_minute
        self._sent: defaultdict[int, deque[datetime]] = defaultdict(deque)  # this worker's sends

    async def admit(self, claimed: list[Claimed]) -> list[Claimed]:
        """The deliveries that may be sent now; the others are handed back to wait their turn."""
        if not self.per_minute:
            return claimed
        paced = {
            c.notification.id for c in claimed if c.notification.method in CHAT_METHODS and not c.is_test
        }
        if not paced:
            return claimed
        now = utcnow()
        since = now - WINDOW
        recorded, oldest = await self._recorded(paced, since)
        admitted: list[Claimed] = []
        deferred: list[tuple[Claimed, datetime]] = []
        for item in claimed:
            notification_id = item.notification.id
            if not is_paced(item):
                admitted.append(item)
                continue
            local = self._sent[notification_id]
            while local and local[0] <= since:
                local.popleft()
            if max(recorded.get(notification_id, 0), len(local)) < self.per_minute:
                local.append(now)
                recorded[notification_id] = recorded.get(notification_id, 0) + 1
                admitted.append(item)
            else:
                first = min(filter(None, (oldest.get(notification_id), local[0] if local else None)))
                deferred.append((item, first + WINDOW))
        if deferred:
            await self._defer(deferred)
        return admitted

    async def _recorded(self, ids: set[int], since: datetime) -> tuple[dict[int, int], dict[int, datetime]]:
        """Attempts per notification since ``since``, and the oldest of them."""
        async with self.db.read() as session:
            rows = await session.execute(
                select(
                    Delivery.notification_id,
                    func.count(DeliveryAttempt.id),
                    func.min(DeliveryAttempt.started_at),
                )
                .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
                .where(Delivery.notification_id.in_(ids), DeliveryAttempt.started_at > since)
                .group_by(Delivery.notification_id)
            )
            counts: dict[int, int] = {}
            oldest: dict[int, datetime] = {}
            for notification_id, count, first in rows.all():
                counts[notification_id] = int(count)
                oldest[notification_id] = first
            return counts, oldest

    async def _defer(self, deferred: list[tuple[Claimed, datetime]]) -> None:
        """Give the leases back, due again when the window has room (only while still held)."""
        async with self.db.write() as session:
            for item, due in deferred:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id == item.delivery_id, Delivery.lease_owner == item.lease_token)
                    .values(lease_owner=None, lease_expires_at=None, next_attempt_at=due)
                )
