"""Purging the delivery log: finished deliveries (and events nothing refers to) older than the retention."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select

from regnotify.db import Database
from regnotify.db.models import Delivery, Event

BATCH = 2000


async def _delete_in_batches(db: Database, model: type[Delivery] | type[Event], *conditions: Any) -> int:
    """Delete the rows of ``model`` matching ``conditions``, BATCH at a time, each batch its own
    transaction; returns how many."""
    deleted = 0
    while True:
        async with db.write() as session:
            ids = list(await session.scalars(select(model.id).where(*conditions).limit(BATCH)))
            if ids:
                await session.execute(delete(model).where(model.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < BATCH:
            return deleted


async def purge(db: Database, older_than: datetime) -> tuple[int, int]:
    """Delete finished deliveries finished before ``older_than``, their attempts, and orphaned events.

    Pending deliveries are never purged, nor the events they carry. Works in small batches so no
    transaction holds the database for long. Returns (deliveries, events) deleted.
    """
    deliveries = await _delete_in_batches(
        db, Delivery, Delivery.state != "pending", Delivery.finished_at < older_than
    )
    events = await _delete_in_batches(
        db, Event, Event.received_at < older_than, ~exists().where(Delivery.event_id == Event.id)
    )
    return deliveries, events
