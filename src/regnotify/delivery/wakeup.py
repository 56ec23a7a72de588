"""Waking idle workers when deliveries are queued: LISTEN/NOTIFY on PostgreSQL, polling on SQLite.

Ingest sends ``NOTIFY regnotify_deliveries`` in the transaction that writes deliveries, so the
notice arrives when they are committed. A worker listens on a connection of its own and polls
as well, so a lost connection only slows it down to the poll interval while it reconnects.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import psycopg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db import Database

log = logging.getLogger(__name__)

CHANNEL = "regnotify_deliveries"


async def announce(session: AsyncSession) -> None:
    """Tell listening workers that deliveries are queued (PostgreSQL only; on commit; once per
    transaction, however many events it stores)."""
    if session.bind.dialect.name != "postgresql":
        return
    transaction = session.sync_session.get_transaction()
    if transaction is not None and session.info.get(CHANNEL) is transaction:
        return
    session.info[CHANNEL] = transaction
    await session.execute(text(f"NOTIFY {CHANNEL}"))


class Wakeup:
    """An event set whenever a NOTIFY arrives; a no-op on SQLite."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.event = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.db.dialect == "postgresql" and self._task is None:
            self._task = asyncio.create_task(self._listen())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _conninfo(self) -> str:
        url = self.db.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def _listen(self) -> None:
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo(), autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    delay = 0.5
                    self.event.set()  # we may have missed notices while connecting
                    async for _ in conn.notifies():
                        self.event.set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: poll meanwhile, then reconnect
                log.warning("wake-up listener lost its connection (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
