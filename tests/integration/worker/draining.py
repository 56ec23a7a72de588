"""Running a worker in the test's own loop until nothing is due."""

from __future__ import annotations

import asyncio

from regnotify.delivery.worker import Worker


async def work_off(worker: Worker, rounds: int = 20) -> None:
    """Run claim rounds until nothing is due (retries are due after ~10 ms in these tests)."""
    for _ in range(rounds):
        claimed = await worker.run_once()
        await worker.drain()
        if not claimed:
            await asyncio.sleep(0.03)
            if not await worker.run_once():
                return
            await worker.drain()
