"""The delivery worker: claim due deliveries, send many at once, record each outcome.

One loop per process claims as many deliveries as it has free slots (``worker_concurrency``),
starts a task per delivery, and polls again when idle (``poll_interval``). The HTTP client bounds
sends per destination host. On stop (SIGTERM) it claims nothing more and waits for the sends in
flight, which the HTTP timeouts bound; anything it could not finish comes back to another worker
when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from datetime import datetime, timedelta

from regnotify.accounts import repository_admins
from regnotify.config import Settings
from regnotify.crypto import SecretBox
from regnotify.db import Database
from regnotify.db.models import Repository
from regnotify.db.types import utcnow
from regnotify.delivery.finisher import DATABASE_ERRORS, Finisher
from regnotify.delivery.outcome import Finished, disabled_mail
from regnotify.delivery.pacing import Pacer
from regnotify.delivery.preparing import EventMessages, OpenedConfigs, build_outgoing
from regnotify.delivery.queue import Claimed, claim
from regnotify.delivery.retention import purge
from regnotify.delivery.retry import RetryPolicy
from regnotify.delivery.wakeup import Wakeup
from regnotify.ingest.expiry import scan_expiries
from regnotify.methods import get_method
from regnotify.methods.sending import Senders, SendResult
from regnotify.metrics import count_attempt

log = logging.getLogger(__name__)

PURGE_EVERY = 600.0  # seconds between purges of the delivery log


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Worker:
    def __init__(
        self, db: Database, settings: Settings, senders: Senders, box: SecretBox, *, name: str | None = None
    ) -> None:
        self.db = db
        self.settings = settings
        self.senders = senders
        self.box = box
        self.name = name or worker_name()
        self.policy = RetryPolicy(settings.retry_schedule, settings.retry_after_cap)
        self._tasks: set[asyncio.Task[Finished | None]] = set()
        self._slot_freed = asyncio.Event()  # set when a send ends; cleared each time the loop looks
        self.wakeup = Wakeup(db)
        self.finisher = Finisher(db, settings, self.policy, worker=self.name)
        self.messages = EventMessages()
        self.opened = OpenedConfigs(box)
        self.pacer = Pacer(db, settings.chat_sends_per_minute)
        self._next_purge = 0.0
        self._next_expiry_scan = 0.0

    async def send(self, claimed: Claimed) -> SendResult:
        """One attempt. Never raises: every problem becomes a failed SendResult."""
        started = time.monotonic()
        try:
            method = get_method(claimed.notification.method)
            try:
                config = self.opened.get(claimed.notification, method)
            except ValueError:
                return SendResult(
                    ok=False,
                    permanent=True,
                    error="the notification's secrets do not open with the configured secret key",
                )
            outgoing = build_outgoing(claimed, self.messages.get(claimed))
            return await method.send(config, outgoing, self.senders)
        except Exception as exc:
            log.exception("delivery %s: sending raised", claimed.delivery_uuid)
            return SendResult(
                ok=False,
                error=f"internal error while sending: {type(exc).__name__}",
                duration_ms=(time.monotonic() - started) * 1000,
            )

    async def process(self, claimed: Claimed) -> Finished | None:
        started_at: datetime = utcnow()
        result = await self.send(claimed)
        outcome = await self.finisher.submit(claimed, result, started_at)
        method = claimed.notification.method
        if outcome is None:
            what = "lease_lost"
        elif result.ok:
            what = "succeeded"
        else:
            what = "retry" if outcome.state == "pending" else "failed"
        count_attempt(method, what, result.duration_ms / 1000)
        log.info(
            "delivery %s attempt %d %s: %s%s%s",
            claimed.delivery_uuid,
            claimed.attempts + 1,
            method,
            what,
            f" status={result.status_code}" if result.status_code is not None else "",
            f" error={result.error!r}" if result.error else "",
            extra={
                "delivery_id": claimed.delivery_uuid,
                "notification_id": claimed.notification.uuid,
                "repository": claimed.repository.full_name,
                "attempt": claimed.attempts + 1,
                "method": method,
                "outcome": what,
                "status_code": result.status_code,
                "duration_ms": round(result.duration_ms, 1),
            },
        )
        if outcome is not None and outcome.disabled:
            await self.mail_admins_about_disable(claimed, result)
        return outcome

    async def mail_admins_about_disable(self, claimed: Claimed, result: SendResult) -> None:
        """Best effort: the in-app notice written with the disable is the record that stays."""
        async with self.db.read() as session:
            repository = await session.get(Repository, claimed.repository.id)
            admins = await repository_admins(session, repository) if repository else []
        subject, text, html = disabled_mail(claimed, result, self.settings.base_url)
        for admin in admins:
            if not admin.email:
                continue
            try:
                await self.senders.mail.send(
                    to=admin.email, subject=subject, text=text, html=html, headers={}
                )
            except Exception as exc:
                log.warning("could not mail %s about a disabled notification: %s", admin.username, exc)

    def _start(self, claimed: Claimed) -> None:
        task = asyncio.create_task(self.process(claimed))
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[Finished | None]) -> None:
        self._tasks.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery task failed; its lease will run out", exc_info=task.exception())

    async def run_once(self) -> int:
        """Claim what fits in the free slots and start sending it; returns how many were claimed."""
        free = self.settings.worker_concurrency - len(self._tasks)
        claimed = await claim(
            self.db, limit=free, lease_seconds=self.settings.lease_seconds, worker=self.name
        )
        for item in await self.pacer.admit(claimed):
            self._start(item)
        return len(claimed)

    async def _pause(self, stop: asyncio.Event, seconds: float, *, on_notify: bool = True) -> None:
        """Wait up to ``seconds``: less when stopping, when a send has finished since the loop last
        looked, or (``on_notify``) when woken by NOTIFY."""
        own: list[asyncio.Future[bool]] = [
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self._slot_freed.wait()),
        ]
        if on_notify:
            own.append(asyncio.ensure_future(self.wakeup.event.wait()))
        await asyncio.wait(own, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        for future in own:
            future.cancel()

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

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then let the sends in flight finish."""
        log.info("worker %s started (concurrency %d)", self.name, self.settings.worker_concurrency)
        self.wakeup.start()
        failures = 0
        while not stop.is_set():
            try:
                self._slot_freed.clear()
                free = self.settings.worker_concurrency - len(self._tasks)
                if free < max(1, self.settings.worker_concurrency // 4):
                    # claim in batches: wait until a quarter of the slots are free again
                    await self._pause(stop, self.settings.poll_interval, on_notify=False)
                    continue
                await self.maybe_purge()
                await self.maybe_scan_expiries()
                self.wakeup.event.clear()  # before claiming: a notice from now on wakes the next pause
                got = await self.run_once() if free > 0 else 0
                failures = 0
            except DATABASE_ERRORS as exc:
                failures += 1
                log.warning("worker %s: database unavailable (%s); retrying", self.name, type(exc).__name__)
                await self._pause(stop, min(30.0, 0.5 * 2**failures), on_notify=False)
                continue
            if free > 0 and got == free:
                await asyncio.sleep(0)  # more may be due: claim again at once
                continue
            await self._pause(stop, self.settings.poll_interval)
        await self.wakeup.stop()
        await self.drain()
        await self.finisher.close()
        log.info("worker %s stopped", self.name)

    async def drain(self) -> None:
        """Wait for the sends in flight and their outcomes to be recorded."""
        if self._tasks:
            timeout = self.settings.http_total_timeout + 10
            _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
