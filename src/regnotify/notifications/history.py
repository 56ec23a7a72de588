"""Reading a notification's delivery log: pages of deliveries, one delivery's attempts, the latest
delivery of each notification, hourly outcome counts, what its destination holds back; and sending
a finished delivery again."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import HELD_PREFIX, Delivery, DeliveryAttempt, Event, Notification
from regnotify.db.types import utcnow
from regnotify.db.wakeup import announce

HOUR = timedelta(hours=1)


class AlreadyQueued(Exception):
    """The delivery is pending: it will be tried anyway, so it cannot be sent again now."""


@dataclass(frozen=True)
class Held:
    """Deliveries a worker holds back because their destination is slow or quarantined."""

    reason: str  # "slow" or "quarantined" (the worse one when both are held)
    count: int
    until: datetime  # the latest hold's end


def held_reason(delivery: Delivery, now: datetime | None = None) -> str | None:
    """ "slow" or "quarantined" while a worker holds this pending delivery back, else None."""
    owner = delivery.lease_owner
    if delivery.state != "pending" or not owner or not owner.startswith(HELD_PREFIX):
        return None
    if delivery.lease_expires_at is None or delivery.lease_expires_at <= (now or utcnow()):
        return None
    return owner.removeprefix(HELD_PREFIX)


async def held_deliveries(session: AsyncSession, notification: Notification) -> Held | None:
    """What is held back for the notification's destination now, if anything."""
    rows = (
        await session.execute(
            select(Delivery.lease_owner, func.count(Delivery.id), func.max(Delivery.lease_expires_at))
            .where(
                Delivery.notification_id == notification.id,
                Delivery.state == "pending",
                Delivery.lease_owner.like(HELD_PREFIX + "%"),
                Delivery.lease_expires_at > utcnow(),
            )
            .group_by(Delivery.lease_owner)
        )
    ).all()
    if not rows:
        return None
    # the WHERE clause leaves only rows with an owner and an end: neither is None
    by_reason = {
        cast(str, owner).removeprefix(HELD_PREFIX): (count, cast(datetime, until))
        for owner, count, until in rows
    }
    reason = "quarantined" if "quarantined" in by_reason else next(iter(by_reason))
    return Held(
        reason=reason,
        count=sum(count for count, _ in by_reason.values()),
        until=max(until for _, until in by_reason.values()),
    )


@dataclass(frozen=True)
class HourOutcomes:
    """Attempts that started in the hour beginning at ``start``, by outcome."""

    start: datetime
    succeeded: int
    failed: int


async def deliveries_page(
    session: AsyncSession,
    notification: Notification,
    *,
    state: str | None = None,
    page: int = 1,
    limit: int = 20,
) -> tuple[list[tuple[Delivery, Event]], bool]:
    """One page of the notification's deliveries with their events, newest first, and whether more follow."""
    query = (
        select(Delivery, Event)
        .join(Event, Event.id == Delivery.event_id)
        .where(Delivery.notification_id == notification.id)
    )
    if state is not None:
        query = query.where(Delivery.state == state)
    rows = (
        await session.execute(
            query.order_by(Delivery.created_at.desc(), Delivery.id.desc())
            .offset((page - 1) * limit)
            .limit(limit + 1)
        )
    ).all()
    return [(delivery, event) for delivery, event in rows[:limit]], len(rows) > limit


async def find_delivery(
    session: AsyncSession, notification: Notification, delivery_uuid: str
) -> tuple[Delivery, Event] | None:
    """The delivery with this id *of this notification*, with its event; another's id is not found."""
    row = (
        await session.execute(
            select(Delivery, Event)
            .join(Event, Event.id == Delivery.event_id)
            .where(Delivery.uuid == delivery_uuid, Delivery.notification_id == notification.id)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def attempts_of(session: AsyncSession, delivery: Delivery) -> list[DeliveryAttempt]:
    """Every attempt of the delivery, oldest first."""
    rows = await session.scalars(
        select(DeliveryAttempt)
        .where(DeliveryAttempt.delivery_id == delivery.id)
        .order_by(DeliveryAttempt.number)
    )
    return list(rows)


async def latest_deliveries(session: AsyncSession, notification_ids: list[int]) -> dict[int, Delivery]:
    """The newest delivery of each of these notifications (those without any are absent)."""
    if not notification_ids:
        return {}
    ranked = (
        select(
            Delivery.id.label("delivery_id"),
            func.row_number()
            .over(
                partition_by=Delivery.notification_id,
                order_by=(Delivery.created_at.desc(), Delivery.id.desc()),
            )
            .label("rank"),
        )
        .where(Delivery.notification_id.in_(notification_ids))
        .subquery()
    )
    rows = await session.scalars(
        select(Delivery).join(ranked, ranked.c.delivery_id == Delivery.id).where(ranked.c.rank == 1)
    )
    return {delivery.notification_id: delivery for delivery in rows}


async def hourly_outcomes(
    session: AsyncSession, notification: Notification, *, now: datetime | None = None, hours: int = 24
) -> list[HourOutcomes]:
    """Succeeded and failed attempts per hour over the last ``hours`` hours, oldest hour first.

    The last bucket is the current, unfinished hour; hours without attempts count zero.
    """
    now = now or utcnow()
    current_hour = now.replace(minute=0, second=0, microsecond=0)
    first_hour = current_hour - (hours - 1) * HOUR
    rows = await session.execute(
        select(DeliveryAttempt.started_at, DeliveryAttempt.outcome)
        .join(Delivery, Delivery.id == DeliveryAttempt.delivery_id)
        .where(Delivery.notification_id == notification.id, DeliveryAttempt.started_at >= first_hour)
    )
    counts = [[0, 0] for _ in range(hours)]
    for started_at, outcome in rows:
        index = int((started_at - first_hour) // HOUR)
        if 0 <= index < hours:
            counts[index][0 if outcome == "succeeded" else 1] += 1
    return [
        HourOutcomes(first_hour + index * HOUR, succeeded, failed)
        for index, (succeeded, failed) in enumerate(counts)
    ]


async def redeliver(session: AsyncSession, delivery: Delivery) -> None:
    """Queue a finished delivery again, with the same delivery id, due at once; the workers are woken
    when the transaction commits."""
    if delivery.state == "pending":
        raise AlreadyQueued(f"delivery {delivery.uuid} is already queued; wait for its outcome")
    delivery.state = "pending"
    delivery.next_attempt_at = utcnow()
    delivery.finished_at = None
    await announce(session)
