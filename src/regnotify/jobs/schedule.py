"""The periodic jobs, each at its own interval: the tag-expiry scan (``expiry_scan_interval``) and the
delivery-log purge (every ``PURGE_EVERY`` seconds, past ``delivery_retention_days``).

One ``PeriodicJobs`` task runs beside each worker (``jobs.running`` starts and stops them together),
so every process that delivers also scans and purges; both jobs are safe to run from several
processes at once (the scan's notices are unique per notification, tag and expiry; a purge deletes
what another already deleted). Each job runs at start, then again its interval after it last began,
whether it succeeded or not. While the database cannot be reached the task retries with the same
backoff as the worker (0.5 s doubling, at most 30 s); another failure is logged and the job waits
for its next turn, so one bad run never stops the others or the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import timedelta

from regnotify.config import Settings
from regnotify.db import DATABASE_ERRORS, Database
from regnotify.db.types import utcnow
from regnotify.jobs.expiry import scan_expiries
from regnotify.jobs.retention import purge

log = logging.getLogger(__name__)

PURGE_EVERY = 600.0  # seconds between purges of the delivery log


class PeriodicJobs:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.db = db
        self.settings = settings
        self._next_purge = 0.0  # monotonic time each job is due next
        self._next_expiry_scan = 0.0

    async def maybe_purge(self) -> None:
        """Purge the delivery log past its retention, at most every PURGE_EVERY seconds."""
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY
        cutoff = utcnow() - timedelta(days=self.settings.delivery_retention_days)
        deliveries, events = await purge(self.db, cutoff)
        if deliveries or events:
            log.info("purged %d deliveries and %d events older than %s", deliveries, events, cutoff)

    async def maybe_scan_expiries(self) -> None:
        """Queue due ``repo_image_expiry`` events, at most every ``expiry_scan_interval`` seconds."""
        if time.monotonic() < self._next_expiry_scan:
            return
        self._next_expiry_scan = time.monotonic() + self.settings.expiry_scan_interval
        if queued := await scan_expiries(self.db, self.settings):
            log.info("queued %d image-expiry notification(s)", queued)

    def seconds_to_next(self) -> float:
        return max(0.0, min(self._next_purge, self._next_expiry_scan) - time.monotonic())

    async def run(self, stop: asyncio.Event) -> None:
        """Run each job when due until ``stop`` is set."""
        failures = 0
        while not stop.is_set():
            unavailable = None
            for job in (self.maybe_purge, self.maybe_scan_expiries):
                try:
                    await job()
                except DATABASE_ERRORS as exc:
                    unavailable = exc
                except Exception:
                    log.exception("periodic job %s failed; it runs again at its next turn", job.__name__)
            if unavailable is None:
                failures = 0
                wait = self.seconds_to_next()
            else:
                failures += 1
                log.warning("periodic jobs: database unavailable (%s); retrying", type(unavailable).__name__)
                wait = min(30.0, 0.5 * 2**failures)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
