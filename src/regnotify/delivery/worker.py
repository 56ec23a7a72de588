"""The delivery worker: claim due deliveries, send many at once, record each outcome.

One loop per process claims as many deliveries as its main lane has free slots
(``worker_concurrency``), asks the destination gate (``delivery.destinations``) about each, and
starts a task per delivery it may send; it polls again when idle (``poll_interval``) unless woken
first. The gate keeps a slow, hung or unreachable destination from holding the main lane: a send
without an answer after ``destination_slow_after`` moves to the slow lane (freeing its main slot at
once), deliveries that would wait behind a slow or quarantined destination are held in the queue,
and deliveries for a fast destination at its in-flight limit wait in memory (they count against the
main lane) until one of its sends ends. Holds are written, and released early, by a keeper task.

On stop (SIGTERM) it claims nothing more, hands back what it had not started, and waits for the
sends in flight, which the HTTP timeouts bound; anything it could not finish comes back to another
worker when its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from regnotify.accounts import repository_admins
from regnotify.config import Settings
from regnotify.db import DATABASE_ERRORS, Database
from regnotify.db.models import Repository
from regnotify.db.types import utcnow
from regnotify.db.wakeup import Wakeup
from regnotify.delivery.destinations import Destination, DestinationGate, Verdict
from regnotify.delivery.hot_path import Finisher, Outcome, claim
from regnotify.delivery.outcome import disabled_mail
from regnotify.delivery.pacing import Pacer
from regnotify.delivery.preparing import EventMessages, OpenedConfigs, build_outgoing
from regnotify.delivery.queue import Claimed, hold, release, release_held
from regnotify.delivery.retry import RetryPolicy
from regnotify.methods import get_method
from regnotify.methods.sending import Senders, SendResult
from regnotify.runtime.crypto import SecretBox
from regnotify.runtime.metrics import (
    count_attempts,
    count_held,
    count_quarantine,
    count_slow_lane_move,
    observe_destinations,
)

log = logging.getLogger(__name__)

UNPROVEN_SLOW_AFTER = 0.1  # seconds a full main lane waits on a destination that never answered


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(eq=False, slots=True)
class Send:
    """One send in flight: which lane it counts against and where it goes."""

    claimed: Claimed
    destination: Destination | None
    started: float  # loop time
    slow_lane: bool
    sent: bool = False  # the send is over; its outcome is being recorded


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
        self._tasks: set[asyncio.Task[None]] = set()
        self._reserved = 0  # main-lane slots promised to a claim in progress
        self._stop = asyncio.Event()
        self._slot_freed = asyncio.Event()  # set when a send ends; cleared each time the loop looks
        self.gate = DestinationGate(settings)
        self._main: dict[Send, None] = {}  # sends in the main lane, oldest first
        self._waiting = 0  # deliveries waiting in memory for a fast destination at its limit
        self._to_hold: list[tuple[Claimed, datetime, str]] = []
        self._to_release: set[Destination] = set()
        self._keeper_wake = asyncio.Event()
        self._helpers: list[asyncio.Task[None]] = []
        self.wakeup = Wakeup(db)
        self.finisher = Finisher(
            db,
            settings,
            self.policy,
            worker=self.name,
            on_recorded=self._recorded,
            room=self._room_after,
            on_claimed=self._claimed_more,
        )
        self.messages = EventMessages()
        self.opened = OpenedConfigs(box)
        self.pacer = Pacer(db, settings.chat_sends_per_minute)

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

    async def process(self, sending: Send) -> None:
        """Send one claimed delivery and hand its outcome to the finisher (without waiting for it)."""
        started_at: datetime = utcnow()
        result = await self.send(sending.claimed)
        try:
            self._send_ended(sending, result)
        finally:
            # A main slot is held until the outcome is recorded (``_recorded``), so a worker never
            # has more sent but unrecorded deliveries (sent again if it dies) than its concurrency.
            self.finisher.add(Outcome(sending.claimed, result, started_at, handle=sending))

    def _recorded(self, batch: list[Outcome]) -> None:
        """After a batch of outcomes is recorded: free their slots, count them once, log them
        (successes at DEBUG, the rest at INFO), and mail admins about notifications disabled."""
        debug = log.isEnabledFor(logging.DEBUG)
        counted: list[tuple[str, str, float]] = []
        for item in batch:
            if isinstance(item.handle, Send):
                self._main.pop(item.handle, None)
            claimed, result, outcome = item.claimed, item.result, item.finished
            method = claimed.notification.method
            if outcome is None:
                what = "lease_lost"
            elif result.ok:
                what = "succeeded"
            else:
                what = "retry" if outcome.state == "pending" else "failed"
            counted.append((method, what, result.duration_ms / 1000))
            if what == "succeeded" and not debug:
                continue
            log.log(
                logging.DEBUG if what == "succeeded" else logging.INFO,
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
                self._track(asyncio.create_task(self.mail_admins_about_disable(claimed, result)))
        count_attempts(counted)
        self._slot_freed.set()

    def _room_after(self, batch: list[Outcome]) -> int:
        """How many deliveries the transaction recording ``batch`` should claim: the main slots free
        once it is recorded, if that is at least a quarter of them (reserved until dispatched)."""
        if self._stop.is_set():
            return 0
        freeing = sum(1 for item in batch if item.handle in self._main)
        free = self.free_slots() + freeing
        if free < max(1, self.settings.worker_concurrency // 4):
            return 0
        self._reserved += free
        return free

    async def _claimed_more(self, claimed: list[Claimed], reserved: int) -> None:
        """Start what the finisher claimed with a batch of outcomes."""
        try:
            await self._accept(claimed)
        except DATABASE_ERRORS as exc:  # holds not written: their leases run out and they come back
            log.warning("could not hold deliveries (%s)", type(exc).__name__)
        finally:
            self._reserved -= reserved

    async def _accept(self, claimed: list[Claimed]) -> None:
        """Pace, then start, queue or hold each claimed delivery."""
        held: list[tuple[Claimed, datetime, str]] = []
        for item in await self.pacer.admit(claimed):
            self.dispatch(item, held)
        if held:
            await hold(self.db, held)

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

    # -- lanes and destinations ---------------------------------------------------------------
    def free_slots(self) -> int:
        """Main-lane slots neither sending, nor promised to a delivery waiting in memory or to a claim."""
        return self.settings.worker_concurrency - len(self._main) - self._waiting - self._reserved

    def destination_of(self, claimed: Claimed) -> Destination | None:
        """The gate's record of where ``claimed`` goes; None for in-app notices (and configs that do
        not open, which fail at once)."""
        method = get_method(claimed.notification.method)
        try:
            config = self.opened.get(claimed.notification, method)
        except ValueError:
            return None
        name = method.destination(config, self.settings)
        return self.gate.get(name) if name is not None else None

    def dispatch(self, claimed: Claimed, held: list[tuple[Claimed, datetime, str]]) -> None:
        """Start ``claimed``, let it wait for its destination, or add it to ``held``."""
        destination = self.destination_of(claimed)
        if destination is None:
            self._start(claimed, None, slow_lane=False)
            return
        if destination.waiting:  # others wait for this destination already: keep claim order
            destination.waiting.append(claimed)
            self._waiting += 1
            return
        admission = self.gate.admit(destination)
        if admission.verdict is Verdict.START:
            self._start(claimed, destination, slow_lane=admission.slow_lane)
        elif admission.verdict is Verdict.WAIT:
            destination.waiting.append(claimed)
            self._waiting += 1
        else:
            held.append((claimed, self._wall_time(admission.until), admission.reason))
            self._count_held(claimed, destination, admission.reason)

    def _count_held(self, claimed: Claimed, destination: Destination, reason: str) -> None:
        self.gate.count_held(reason, destination, claimed.notification.id)
        count_held(claimed.notification.method, reason)

    def _wall_time(self, monotonic: float) -> datetime:
        return utcnow() + timedelta(seconds=max(0.0, monotonic - time.monotonic()))

    def _start(self, claimed: Claimed, destination: Destination | None, *, slow_lane: bool) -> None:
        sending = Send(claimed, destination, asyncio.get_running_loop().time(), slow_lane)
        if not slow_lane:
            self._main[sending] = None
        self._track(asyncio.create_task(self.process(sending)))

    def _track(self, task: asyncio.Task[None]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._done)

    def _send_ended(self, sending: Send, result: SendResult) -> None:
        """Tell the gate what the destination did (its in-flight count drops now; a main slot is
        freed once the outcome is recorded)."""
        sending.sent = True
        destination = sending.destination
        if destination is not None:
            if result.status_code is not None:
                answered: bool | None = True
            else:
                answered = False if result.unreachable else None
            if result.ok and result.status_code is None:
                answered = True  # e.g. an SMTP server that took the mail
            quarantined = self.gate.finished(
                destination, slow_lane=sending.slow_lane, answered=answered, seconds=result.duration_ms / 1000
            )
            if quarantined:
                count_quarantine()
                log.warning(
                    "destination %s quarantined for %.0fs after %d send(s) without an answer; "
                    "its deliveries are held meanwhile",
                    destination.name,
                    destination.quarantined_until - time.monotonic(),
                    destination.failures,
                    extra={"destination": destination.name},
                )
            self._pump(destination)
        self._slot_freed.set()

    def _pump(self, destination: Destination) -> None:
        """Start what waits for ``destination`` while it has room; hold it all once it is slow."""
        while destination.waiting:
            admission = self.gate.admit(destination)
            if admission.verdict is Verdict.WAIT:
                break
            if admission.verdict is Verdict.START:
                self._waiting -= 1
                self._start(destination.waiting.popleft(), destination, slow_lane=admission.slow_lane)
                continue
            until = self._wall_time(admission.until)
            for claimed in destination.waiting:
                self._to_hold.append((claimed, until, admission.reason))
                self._count_held(claimed, destination, admission.reason)
            self._waiting -= len(destination.waiting)
            destination.waiting.clear()
            self._keeper_wake.set()
            break
        if destination.held_notifications and self.gate.releasable(destination) > 0:
            self._to_release.add(destination)
            self._keeper_wake.set()

    def move_slow_sends(self, *, lane_full: bool = False) -> int:
        """Move main-lane sends that have waited ``destination_slow_after`` to the slow lane; when
        the main lane is full, also those waiting ``UNPROVEN_SLOW_AFTER`` on a destination that has
        never answered this worker (a burst to new hung receivers must not hold the lane a second)."""
        now = asyncio.get_running_loop().time()
        cutoff = now - self.settings.destination_slow_after
        unproven_cutoff = now - min(UNPROVEN_SLOW_AFTER, self.settings.destination_slow_after)
        moved: list[Send] = []
        for sending in self._main:  # oldest first
            if sending.sent:  # a send whose outcome is being recorded has had its answer
                continue
            if sending.started <= cutoff:
                moved.append(sending)
            elif not lane_full or sending.started > unproven_cutoff:
                break
            elif sending.destination is not None and not sending.destination.answered:
                moved.append(sending)
        for sending in moved:
            del self._main[sending]
            sending.slow_lane = True
            count_slow_lane_move()
            if sending.destination is not None:
                if self.gate.moved_to_slow_lane(sending.destination):
                    log.info(
                        "destination %s is slow (no answer within %.1fs); its sends use the slow lane",
                        sending.destination.name,
                        now - sending.started,
                        extra={"destination": sending.destination.name},
                    )
                self._pump(sending.destination)
        if moved:
            self._slot_freed.set()
        return len(moved)

    async def _watch_lanes(self) -> None:
        """Every quarter of ``destination_slow_after``: move slow sends, publish the gate's gauges."""
        interval = min(0.25, max(0.02, self.settings.destination_slow_after / 4))
        while True:
            await asyncio.sleep(interval)
            self.move_slow_sends()
            observe_destinations(self.gate)

    async def _keep(self) -> None:
        """Write holds and release them early, off the claim loop."""
        while True:
            await self._keeper_wake.wait()
            self._keeper_wake.clear()
            await self.keep_once()

    async def keep_once(self) -> None:
        held, self._to_hold = self._to_hold, []
        releases, self._to_release = self._to_release, set()
        try:
            await hold(self.db, held)
        except DATABASE_ERRORS as exc:  # their leases run out and they come back
            log.warning("could not hold %d deliveries (%s)", len(held), type(exc).__name__)
        released = 0
        for destination in releases:
            room = self.gate.releasable(destination)
            if room <= 0:
                continue
            try:
                count = await release_held(self.db, destination.held_notifications, room)
            except DATABASE_ERRORS as exc:
                log.warning("could not release held deliveries (%s)", type(exc).__name__)
                continue
            if count < room:
                destination.held_notifications.clear()  # nothing more is held for it
            released += count
        if released:
            self._slot_freed.set()

    def _start_helpers(self) -> None:
        self._helpers = [asyncio.create_task(self._watch_lanes()), asyncio.create_task(self._keep())]

    async def _stop_helpers(self) -> None:
        for task in self._helpers:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._helpers = []

    async def _hand_back_waiting(self) -> None:
        """Give back the leases of deliveries still waiting in memory, and write pending holds."""
        waiting = [c for d in self.gate.known() for c in d.waiting]
        for destination in self.gate.known():
            destination.waiting.clear()
        self._waiting = 0
        with contextlib.suppress(*DATABASE_ERRORS):
            await release(self.db, waiting)
        with contextlib.suppress(*DATABASE_ERRORS):
            await self.keep_once()

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slot_freed.set()
        if not task.cancelled() and task.exception() is not None:
            log.error("a delivery task failed; its lease will run out", exc_info=task.exception())

    async def run_once(self) -> int:
        """Claim what fits in the free slots and start sending it; returns how many were claimed."""
        free = self.free_slots()
        self._reserved += free
        try:
            claimed = await claim(
                self.db,
                limit=free,
                lease_seconds=self.settings.lease_seconds,
                worker=self.name,
                reader=self.finisher.reader,
            )
            await self._accept(claimed)
        finally:
            self._reserved -= free
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

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop`` is set, then let the sends in flight finish."""
        log.info("worker %s started (concurrency %d)", self.name, self.settings.worker_concurrency)
        self._stop = stop
        self.wakeup.start()
        self._start_helpers()
        failures = 0
        while not stop.is_set():
            try:
                self._slot_freed.clear()
                free = self.free_slots()
                if free < max(1, self.settings.worker_concurrency // 4):
                    # claim in batches: wait until a quarter of the slots are free again, moving
                    # sends that only wait on receivers never heard from out of the way meanwhile
                    if not self.move_slow_sends(lane_full=True):
                        await self._pause(
                            stop, min(self.settings.poll_interval, UNPROVEN_SLOW_AFTER / 2), on_notify=False
                        )
                    continue
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
        await self._hand_back_waiting()
        await self.drain()
        await self._stop_helpers()
        await self.finisher.close()
        log.info("worker %s stopped", self.name)

    async def drain(self) -> None:
        """Wait for the sends in flight, their outcomes to be recorded, and the mails about them."""
        deadline = asyncio.get_running_loop().time() + self.settings.http_total_timeout + 10
        while self._tasks or not self.finisher.idle:
            if self._tasks:
                timeout = max(0.0, deadline - asyncio.get_running_loop().time())
                _done, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
                for task in pending:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
            await self.finisher.flush()
