"""The outbox queue: claim due deliveries on a lease, then finish them only while holding it.

Semantics (at-least-once):
- A delivery is *due* when it is pending, its ``next_attempt_at`` has come, nobody holds a live
  lease on it, and its notification is enabled (test deliveries go out regardless). Pending
  deliveries of a disabled notification are held, not dropped.
- Claiming takes up to N due rows and writes a fresh lease token and expiry on them, in one
  transaction: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL lets workers claim disjoint rows;
  SQLite's single writer lock (``BEGIN IMMEDIATE``) serialises claims. It lives in
  ``delivery.hot_path`` with the batched recording of outcomes, the worker's steady state.
- Finishing records the attempt and moves the row on (succeeded, retry later, failed) only if the
  row still carries the same token. A worker that died, or stalled past its lease, loses the
  row to the next claimer; a late finish is dropped and logged, so a row is never finished twice.
- ``hold`` hands claimed rows back without an attempt, under a *held* lease (``lease_owner``
  ``held:<reason>``) that runs out at a given time: the worker's destination gate holds back
  deliveries for a slow or quarantined destination this way (``delivery.destinations``).
  ``release_held`` ends such holds early, oldest first, when the destination has room again. A
  held row is an ordinary pending row whose lease has not run out: nothing else changes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db import Database
from regnotify.db.models import Delivery

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ClaimedEvent:
    id: int
    kind: str
    payload: dict[str, Any]
    received_at: datetime | None = None  # when the event was recorded (CloudEvents' ``time``)


@dataclass(frozen=True, slots=True)
class ClaimedNotification:
    id: int
    uuid: str
    title: str | None
    event: str
    method: str
    config: dict[str, Any]  # as stored: secrets still sealed


@dataclass(frozen=True, slots=True)
class ClaimedRepository:
    id: int
    namespace: str
    name: str

    @property
    def full_name(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Claimed:
    """A delivery this worker holds, with what sending it needs (plain values, read at claim time)."""

    delivery_id: int
    delivery_uuid: str
    lease_token: str
    attempts: int  # tries made before this one
    is_test: bool
    event: ClaimedEvent
    notification: ClaimedNotification
    repository: ClaimedRepository


async def hold_lease(session: AsyncSession, claimed: Claimed) -> Delivery | None:
    """The delivery row, locked for this transaction, if ``claimed`` still holds its lease."""
    return await session.scalar(
        select(Delivery)
        .where(Delivery.id == claimed.delivery_id, Delivery.lease_owner == claimed.lease_token)
        .with_for_update()
    )


async def release(db: Database, claimed: list[Claimed]) -> None:
    """Give leases back without an attempt (a stopping worker that did not start them)."""
    async with db.write() as session:
        for item in claimed:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == item.delivery_id, Delivery.lease_owner == item.lease_token)
                .values(lease_owner=None, lease_expires_at=None)
            )


_HOLD = (
    update(Delivery.__table__)
    .where(
        Delivery.__table__.c.id == bindparam("delivery_id"),
        Delivery.__table__.c.lease_owner == bindparam("token"),
    )
    .values(lease_owner=bindparam("reason"), lease_expires_at=bindparam("until"))
)


async def hold(db: Database, held: Sequence[tuple[Claimed, datetime, str]]) -> None:
    """Hand ``(claimed, until, reason)`` rows back unsent, held until ``until`` (only leases still
    ours): one statement for the lot."""
    if not held:
        return
    async with db.write() as session:
        connection = await session.connection()
        await connection.execute(
            _HOLD,
            [
                {"delivery_id": item.delivery_id, "token": item.lease_token, "reason": reason, "until": until}
                for item, until, reason in held
            ],
        )


async def release_held(db: Database, notification_ids: Iterable[int], limit: int) -> int:
    """End the holds of up to ``limit`` pending rows of these notifications, oldest due first;
    returns how many came back."""
    ids = list(notification_ids)
    if not ids or limit <= 0:
        return 0
    table = Delivery.__table__
    oldest_held = (
        select(table.c.id)
        .where(
            table.c.notification_id.in_(ids),
            table.c.state == "pending",
            table.c.lease_owner.like("held:%"),
        )
        .order_by(table.c.next_attempt_at, table.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    async with db.write() as session:
        connection = await session.connection()
        result = await connection.execute(
            update(table).where(table.c.id.in_(oldest_held)).values(lease_owner=None, lease_expires_at=None)
        )
        return int(result.rowcount or 0)
