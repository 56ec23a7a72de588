"""Recording outcomes in batches: the attempts that end within a few milliseconds share a transaction.

Each finished send hands its outcome to the finisher and waits for it. The finisher writes up to
``MAX_BATCH`` outcomes in one write transaction, ordered by notification and delivery so that
concurrent workers lock rows in the same order. Successes (the common case) are written together,
a few statements for the whole batch; failures, which may retry, count towards disabling and
notify admins, go one by one, a savepoint each, so one bad row spoils nothing else. A transaction
and a statement cost far more than the rows in them, so this is where a worker's throughput comes
from. If the database is unavailable the batch is retried a few times; after that the outcomes are
dropped and the leases run out, so the deliveries are sent again (at-least-once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.delivery.outcome import Finished, record_outcome, record_successes
from regnotify.delivery.queue import Claimed
from regnotify.delivery.retry import RetryPolicy
from regnotify.methods.sending import SendResult

log = logging.getLogger(__name__)

MAX_BATCH = 64
LINGER = 0.005  # seconds a batch waits for more outcomes once it has one
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
            deadline = asyncio.get_running_loop().time() + LINGER
            while len(batch) < MAX_BATCH:  # let sends finishing within LINGER join this batch
                if self._queue.empty():
                    remaining = deadline - asyncio.get_running_loop().time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[_Outcome]) -> None:
        batch.sort(key=lambda o: (o.claimed.notification.id, o.claimed.delivery_id))
        for attempt in range(3):
            try:
                async with self.db.write() as session:
                    results = await self._record(session, batch)
                break
            except DATABASE_ERRORS:
                log.warning("could not record %d outcome(s) (try %d); retrying", len(batch), attempt + 1)
                await asyncio.sleep(1 + attempt)
        else:
            results = {}  # the leases run out and the deliveries go out again
        for item in batch:
            if not item.done.done():
                item.done.set_result(results.get(id(item)))

    async def _record(self, session: AsyncSession, batch: list[_Outcome]) -> dict[int, Finished | None]:
        """Record the batch in ``session``'s transaction: successes of notifications with no failure
        in this batch together, every other outcome one by one in order (a savepoint each)."""
        failing = {o.claimed.notification.id for o in batch if not o.result.ok}
        together = [o for o in batch if o.claimed.notification.id not in failing]
        one_by_one = [o for o in batch if o.claimed.notification.id in failing]
        results: dict[int, Finished | None] = {}
        if together:
            try:
                async with session.begin_nested():
                    finished = await record_successes(
                        session, [(o.claimed, o.result, o.started_at) for o in together], worker=self.worker
                    )
                results.update(zip(map(id, together), finished, strict=True))
            except DATABASE_ERRORS:
                raise
            except Exception:  # a bug in the batch statements: record those rows one by one instead
                log.exception("recording %d outcomes together failed; one by one instead", len(together))
                one_by_one = together + one_by_one
        for item in one_by_one:
            try:
                async with session.begin_nested():
                    results[id(item)] = await record_outcome(
                        session,
                        item.claimed,
                        item.result,
                        started_at=item.started_at,
                        policy=self.policy,
                        failure_threshold=self.settings.failure_threshold,
                        worker=self.worker,
                    )
            except DATABASE_ERRORS:
                raise
            except Exception:  # a bug in one row: that row stays leased, the rest go on
                log.exception("delivery %s: recording the outcome failed", item.claimed.delivery_uuid)
                results[id(item)] = None
        return results
