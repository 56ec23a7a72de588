"""Group commit: the write work of concurrent requests shares transactions, one at a time.

A request hands its work (an async function of a session) to ``GroupCommit.run`` and waits. While
a transaction is open, newly arriving work queues; when it commits, the next transaction takes
everything queued (up to ``max_batch``), runs each piece in turn and commits once. A request is
answered only after the transaction holding its work has committed, so an answer still means
"stored". Under light load every transaction holds one piece and nothing waits; under heavy load
the per-transaction costs (BEGIN, COMMIT, on SQLite the writer lock and its waits) are paid once
per batch instead of once per request.

Pieces of one batch may share what they read through ``batch_memo(session)`` (the repository an
event names, the notifications that may match it): within one short transaction it stays true.

Each piece catches the errors it expects (a rejected event, say) itself. If a batch's transaction
fails anyway, each of its pieces is run again alone, in a transaction of its own, so one failing
piece fails only its own request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.engine import Database
from regnotify.metrics import group_commit_batch

log = logging.getLogger(__name__)

T = TypeVar("T")
MEMO = "regnotify_batch_memo"
Work = Callable[[AsyncSession], Awaitable[T]]


class GroupCommit:
    def __init__(self, db: Database, *, max_batch: int = 32) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        self._runner: asyncio.Task[None] | None = None
        self.transactions = 0  # committed or not, re-runs alone included; for tests and benchmarks
        self.pieces = 0  # pieces of work taken from the queue

    async def run(self, work: Work[T]) -> T:
        """Run ``work`` in a shared write transaction; its result once that transaction committed."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)  # an error nobody awaits any more is not reported twice
        self._queue.append((work, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain(), name="group-commit")
        # a request that goes away (client disconnect) leaves its work queued: it still runs
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        batch: list[tuple[Work[Any], asyncio.Future[Any]]] = []
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                self.pieces += len(batch)
                try:
                    results = await self._together(batch)
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][1], error=exc)
                        continue
                    log.warning("a shared transaction of %d requests failed; running each alone", len(batch))
                    for work, future in batch:
                        try:
                            (result,) = await self._together([(work, future)])
                        except Exception as alone:
                            _settle(future, error=alone)
                        else:
                            _settle(future, result)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    _settle(future, result)
                batch = []
        except BaseException as stopped:  # cancelled at shutdown: nobody may wait forever
            for _, future in batch + self._queue:
                _settle(future, error=RuntimeError(f"the service is stopping ({type(stopped).__name__})"))
            self._queue.clear()
            raise

    async def _together(self, batch: list[tuple[Work[Any], asyncio.Future[Any]]]) -> list[Any]:
        self.transactions += 1
        async with self.db.write() as session:
            session.info[MEMO] = {}
            results = [await work(session) for work, _ in batch]
        group_commit_batch.observe(len(batch))
        return results


def batch_memo(session: AsyncSession) -> dict[Any, Any] | None:
    """A dict shared by the pieces of the batch ``session`` runs, or None outside a group commit."""
    memo = session.info.get(MEMO)
    return memo if isinstance(memo, dict) else None


def _settle(future: asyncio.Future[Any], result: Any = None, *, error: BaseException | None = None) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
