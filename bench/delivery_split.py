"""Where a delivery's CPU goes: the worker's three steps run one after another, each timed alone.

Run from the repository root::

    .venv/bin/python bench/delivery_split.py [--deliveries 5000]

Same scene, receiver and ceiling as ``bench/delivery.py`` (SQLite, 10 signed webhooks, N pending
deliveries), but instead of running the ``Worker`` it does, in turn:

1. **claim**: ``claim()`` in batches of 64 until nothing is due (one write transaction each);
2. **send**: ``Worker.send()`` for every claimed delivery, 64 in flight (open the config, render,
   sign, POST through the guarded client; no database);
3. **finish**: hand every outcome to the ``Finisher`` at once (batched recording).

For each step it prints deliveries/s and this process's CPU per delivery (the aiosqlite thread
included), next to the bare aiohttp client's CPU per request measured in the same run. The sum of
the three is about what the worker spends per delivery; the send step alone against the bare
client shows what the method stack (headers, signature, SSRF check, result and attempt log) adds.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from cryptography.fernet import Fernet

sys.path.insert(0, str(Path(__file__).parent))

from harness import (
    CONCURRENCY,
    NOTIFICATIONS,
    bench_settings,
    make_scene,
    measure_ceiling,
    process_cpu,
    record_backlog,
    sample_body,
    say,
    start_receiver,
    stop_server,
)

from regnotify.db import Database, migrate
from regnotify.db.types import utcnow
from regnotify.delivery.hot_path import claim
from regnotify.delivery.queue import Claimed
from regnotify.delivery.senders import build_senders
from regnotify.delivery.worker import Worker
from regnotify.methods.sending import SendResult
from regnotify.runtime.crypto import SecretBox


async def timed(label: str, n: int, step: Callable[[], Awaitable[None]]) -> float:
    """Run ``step``; print and return CPU ms per delivery."""
    started, cpu = time.perf_counter(), process_cpu()
    await step()
    elapsed, cpu = time.perf_counter() - started, process_cpu() - cpu
    per = 1000 * cpu / n
    say(f"{label:<8} {n / elapsed:>8,.0f} deliveries/s   {per:.3f} ms CPU per delivery")
    return per


async def amain(n: int) -> None:
    receiver = start_receiver()
    try:
        ceiling, ceiling_cpu = await measure_ceiling(receiver, sample_body(), n)
        say(f"bare aiohttp: {ceiling:,.0f} requests/s   {ceiling_cpu:.3f} ms CPU per request")
        secret_key = Fernet.generate_key().decode()
        box = SecretBox(secret_key)
        workdir = Path(tempfile.mkdtemp(prefix="regnotify-split-"))
        url = f"sqlite:///{workdir / 'bench.sqlite'}"
        settings = bench_settings(url, workdir / "data", secret_key)
        db = Database(settings.sqlalchemy_url)
        await migrate(db.engine)
        repository = await make_scene(db, box, receiver.hook_url, NOTIFICATIONS)
        events = max(1, n // NOTIFICATIONS)
        await record_backlog(db, repository, events, source="split")
        total = events * NOTIFICATIONS
        senders = build_senders(settings, db)
        worker = Worker(db, settings, senders, box, name="split-worker")
        claimed: list[Claimed] = []
        sent: list[tuple[Claimed, SendResult, datetime]] = []

        async def claim_all() -> None:
            while batch := await claim(db, limit=CONCURRENCY, lease_seconds=600, worker=worker.name):
                claimed.extend(batch)

        async def send_all() -> None:
            slots = asyncio.Semaphore(CONCURRENCY)

            async def one(item: Claimed) -> None:
                async with slots:
                    started = utcnow()
                    sent.append((item, await worker.send(item), started))

            await asyncio.gather(*(one(item) for item in claimed))

        async def finish_all() -> None:
            await asyncio.gather(*(worker.finisher.submit(*outcome) for outcome in sent))

        steps = [
            await timed("claim", total, claim_all),
            await timed("send", total, send_all),
            await timed("finish", total, finish_all),
        ]
        failed = sum(not result.ok for _item, result, _started in sent)
        say(
            f"sum      {sum(steps):.3f} ms CPU per delivery"
            f" = {sum(steps) / ceiling_cpu:.1f}x the bare client;"
            f" send alone {steps[1] / ceiling_cpu:.1f}x ({failed} sends failed)"
        )
        await worker.finisher.close()
        await senders.close()
        await db.dispose()
    finally:
        stop_server(receiver.process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=5000)
    asyncio.run(amain(parser.parse_args().deliveries))


if __name__ == "__main__":
    main()
