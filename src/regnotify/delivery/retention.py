"""Purging the delivery log: finished deliveries (and events nothing refers to) older than the retention."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select

from regnotify.db import Database
from regnotify.db.models import Delivery, Event

BATCH = 2000


async def purge(db: Database, older_than: datetime) -> tuple[int, int]:
    """Delete finished deliveries finished before ``older_than``, their attempts, and orphaned events.

    Pending deliveries are never purged, nor the events they carry. Works in small batches so no
    transaction holds the database for long. Returns (deliveries, events) deleted.
    """
    deliveries = events = 0
    while True:
        async with db.write() as session:
            ids = list(
                await session.scalars(
                    select(Delivery.id)
                    .where(Delivery.state != "pending", Delivery.finished_at < older_than)
                    .limit(BATCH)
                )
            )
            if ids:
                await session.execute(delete(Delivery).where(Delivery.id.in_(ids)))
        deliveries += len(ids)
        if len(ids) < BATCH:
            break
    while True:
        async with db.write() as session:
            ids = list(
                await session.scalars(
                    select(Event.id)
                    .where(Event.received_at < older_than, ~exists().where(Delivery.event_id == Event.id))
                    .limit(BATCH)
                )
            )
            if ids:
                await session.execute(delete(Event).where(Event.id.in_(ids)))
        events += len(ids)
        if len(ids) < BATCH:
            break
    return deliveries, events
