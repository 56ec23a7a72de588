"""Group commit: the write work of concurrent requests shares transactions, one at a time.

A request hands an item of work and the handler that stores such items to ``GroupCommit.run`` and
waits. While a transaction is open, newly arriving items queue; when it commits, the next
transaction takes everything queued (up to ``max_batch``), hands each handler its items in one
call (``handler(session, items)`` returns one result per item, in order) and commits once. A
request is answered only after the transaction holding its item has committed, so an answer still
means "stored". Under light load every transaction holds one item and nothing waits; under heavy
load the per-transaction costs (BEGIN, COMMIT, on SQLite the writer lock and its waits) are paid
once per batch instead of once per request, and a handler can store a batch's items set-wise: a
few statements for all of them instead of a few for each.

A handler turns the errors it expects for one item (a rejected event, say) into that item's
result. If a batch's transaction fails anyway, each of its items is stored again alone, in a
transaction of its own, so one failing item fails only its own request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.engine import Database
from regnotify.runtime.metrics import group_commit_batch

log = logging.getLogger(__name__)

I = TypeVar("I")  # noqa: E741 - an item of work
R = TypeVar("R")
Handler = Callable[[AsyncSession, list[I]], Awaitable[list[R]]]
Queued = tuple[Handler[Any, Any], Any, "asyncio.Future[Any]"]


class GroupCommit:
    def __init__(self, db: Database, *, max_batch: int = 32) -> None:
        self.db = db
        self.max_batch = max_batch
        self._queue: list[Queued] = []
        self._runner: asyncio.Task[None] | None = None
        self.transactions = 0  # committed or not, re-runs alone included; for tests and benchmarks
        self.pieces = 0  # items taken from the queue

    async def run(self, handler: Handler[I, R], item: I) -> R:
        """Store ``item`` with ``handler`` in a shared write transaction; its result once that
        transaction committed."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)  # an error nobody awaits any more is not reported twice
        self._queue.append((handler, item, future))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._drain(), name="group-commit")
        # a request that goes away (client disconnect) leaves its item queued: it is still stored
        return await asyncio.shield(future)

    async def _drain(self) -> None:
        batch: list[Queued] = []
        try:
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                self.pieces += len(batch)
                try:
                    results = await self._together(batch)
                except Exception as exc:
                    if len(batch) == 1:
                        _settle(batch[0][2], error=exc)
                        continue
                    log.warning("a shared transaction of %d requests failed; storing each alone", len(batch))
                    for queued in batch:
                        try:
                            (result,) = await self._together([queued])
                        except Exception as alone:
                            _settle(queued[2], error=alone)
                        else:
                            _settle(queued[2], result)
                    continue
                for (_, _, future), result in zip(batch, results, strict=True):
                    _settle(future, result)
                batch = []
        except BaseException as stopped:  # cancelled at shutdown: nobody may wait forever
            for _, _, future in batch + self._queue:
                _settle(future, error=RuntimeError(f"the service is stopping ({type(stopped).__name__})"))
            self._queue.clear()
            raise

    async def _together(self, batch: list[Queued]) -> list[Any]:
        """Store the batch in one transaction; the results in the batch's order."""
        self.transactions += 1
        by_handler: dict[Handler[Any, Any], list[int]] = {}
        for position, (handler, _, _) in enumerate(batch):
            by_handler.setdefault(handler, []).append(position)
        results: list[Any] = [None] * len(batch)
        async with self.db.write() as session:
            for handler, positions in by_handler.items():
                stored = await handler(session, [batch[p][1] for p in positions])
                if len(stored) != len(positions):
                    raise RuntimeError(f"{handler!r} returned {len(stored)} results for {len(positions)}")
                for position, result in zip(positions, stored, strict=True):
                    results[position] = result
        group_commit_batch.observe(len(batch))
        return results


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
