"""Recording outcomes in batches: the attempts that end within a few milliseconds share a transaction.

Each finished send hands its outcome to the finisher and waits for it. The finisher writes up to
``MAX_BATCH`` outcomes in one write transaction (a savepoint each, so one bad row spoils nothing
else), ordered by notification and delivery so that concurrent workers lock rows in the same
order. A transaction costs far more than the rows in it, so this is where a worker's throughput
comes from. If the database is unavailable the batch is retried a few times; after that the
outcomes are dropped and the leases run out, so the deliveries are sent again (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.delivery.outcome import Finished, record_outcome
from regnotify.delivery.queue import Claimed
from regnotify.delivery.retry import RetryPolicy
from regnotify.methods.sending import SendResult

log = logging.getLogger(__name__)

MAX_BATCH = 64
DATABASE_ERRORS = (OperationalError, InterfaceError, PoolTimeout, OSError)


@dataclass
class _Outcome:
    claimed: Claimed
    result: SendResult
    started_at: datetime
    done: asyncio.Future[Finished | None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Finisher:
    def __init__(self, db: Database, settings: Settings, policy: RetryPolicy, *, worker: str) -> None:
        self.db = db
        self.settings = settings
        self.policy = policy
        self.worker = worker
        self._queue: asyncio.Queue[_Outcome] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def submit(self, claimed: Claimed, result: SendResult, started_at: datetime) -> Finished | None:
        """Record one outcome (batched with others); None when the lease was lost or recording failed."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        outcome = _Outcome(claimed, result, started_at)
        await self._queue.put(outcome)
        return await outcome.done

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            await asyncio.sleep(0)  # let sends finishing in the same instant join this batch
            while len(batch) < MAX_BATCH and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[_Outcome]) -> None:
        batch.sort(key=lambda o: (o.claimed.notification.id, o.claimed.delivery_id))
        for attempt in range(3):
            results: list[Finished | BaseException | None] = []
            try:
                async with self.db.write() as session:
                    for item in batch:
                        try:
                            async with session.begin_nested():
                                results.append(
                                    await record_outcome(
                                        session,
                                        item.claimed,
                                        item.result,
                                        started_at=item.started_at,
                                        policy=self.policy,
                                        failure_threshold=self.settings.failure_threshold,
                                        worker=self.worker,
                                    )
                                )
                        except DATABASE_ERRORS:
                            raise
                        except Exception as exc:  # a bug in one row: that row stays leased, the rest go on
                            log.exception(
                                "delivery %s: recording the outcome failed", item.claimed.delivery_uuid
                            )
                            results.append(exc)
                break
            except DATABASE_ERRORS:
                log.warning("could not record %d outcome(s) (try %d); retrying", len(batch), attempt + 1)
                await asyncio.sleep(1 + attempt)
        else:
            results = [None] * len(batch)  # the leases run out and the deliveries go out again
        for item, value in zip(batch, results, strict=True):
            if not item.done.done():
                item.done.set_result(None if isinstance(value, BaseException) else value)
