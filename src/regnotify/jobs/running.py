"""Running a worker and the periodic jobs for as long as something else lives: inside ``serve`` or as
``regnotify worker``."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.delivery.senders import build_senders
from regnotify.delivery.worker import Worker
from regnotify.jobs.schedule import PeriodicJobs
from regnotify.outbound.addresses import Resolver, system_resolver
from regnotify.runtime.crypto import SecretBox


@contextlib.asynccontextmanager
async def background_worker(
    db: Database, settings: Settings, box: SecretBox, resolver: Resolver = system_resolver
) -> AsyncIterator[Worker]:
    """A worker and the periodic jobs running in this event loop until the block ends; then the worker
    stops claiming and drains."""
    senders = build_senders(settings, db, resolver)
    worker = Worker(db, settings, senders, box)
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop))
    jobs = asyncio.create_task(PeriodicJobs(db, settings).run(stop))
    try:
        yield worker
    finally:
        stop.set()
        await asyncio.gather(task, jobs)
        await senders.close()


async def run_until_signalled(db: Database, settings: Settings, box: SecretBox) -> None:
    """``regnotify worker``: run until SIGTERM or SIGINT, then finish what is in flight and return."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    senders = build_senders(settings, db)
    try:
        await asyncio.gather(
            Worker(db, settings, senders, box).run(stop), PeriodicJobs(db, settings).run(stop)
        )
    finally:
        await senders.close()
