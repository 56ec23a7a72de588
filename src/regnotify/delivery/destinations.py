"""Fair delivery across destinations: a slow, hung or unreachable receiver gets a bounded share.

A *destination* is where a send goes, as ``host:port`` (the method says: a webhook's or chat
service's URL, HipChat's or Flowdock's base URL, the SMTP server; in-app notices have none and are
never held). Each worker keeps, per destination, what it has learnt from its own sends:

- **An in-flight limit** that adapts (AIMD): it starts at ``per_host_concurrency``, halves when a
  send gets no answer (timed out, refused, reset) and grows by one with each answer. A worker never
  has more sends in flight to one destination than its limit; more deliveries for a destination at
  its limit wait in the worker's memory, in claim order, while the destination is *fast*.
- **Two lanes.** Sends start in the *main* lane (``worker_concurrency`` slots), which is what the
  worker claims against. A send that has had no answer after ``destination_slow_after`` seconds
  moves to the *slow* lane: its main slot is free at once and its destination is marked *slow*.
  Later sends to a slow destination start in the slow lane (``slow_lane_concurrency`` slots),
  never in the main one, so slow receivers can fill the slow lane but never the slots healthy
  receivers need. While the main lane is full, a send to a destination that has never answered
  this worker moves after 0.1 s already (``worker.UNPROVEN_SLOW_AFTER``): a burst of events for
  many new hung receivers holds the lane for a tenth of a second, not a second. A destination is
  fast again when a send to it is answered within the threshold.
- **Holding.** A delivery that cannot start now and would wait behind a slow destination (slow and
  at its limit, or the slow lane full) is *held*: handed back to the queue with a held lease
  (``lease_owner`` ``held:slow``) that runs out when the destination's sends in flight must have
  ended (``http_total_timeout``), and is released earlier when a slot of that destination frees. A
  held delivery makes no attempt: it neither fails nor counts towards disabling its notification.
- **Quarantine** (a circuit breaker). ``destination_failure_threshold`` consecutive sends without
  an answer quarantine the destination for ``destination_quarantine_seconds`` (doubling with each
  failed probe, up to ``destination_quarantine_max_seconds``, with 10 % jitter): its deliveries are
  held (``held:quarantined``) until then. After it one probe is sent; an answer of any kind ends the
  quarantine, no answer starts a longer one. Answers with an HTTP error status (500, 429, …) are
  answers: the destination is reachable and each delivery's own retry schedule, ``Retry-After``
  and auto-disable deal with them, as before.

Every promise of the queue holds: held deliveries are still pending rows (nothing is dropped, a
crashed worker's holds run out like leases), a delivery keeps its ``webhook-id``, and attempts are
counted only for sends that were made. Each worker learns on its own; with several workers a dead
destination gets at most one probe per worker at a time. What a worker knows is bounded: at most
``MAX_TRACKED`` destinations, idle ones forgotten first.
"""

from __future__ import annotations

import random
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING, Any

from regnotify.config import Settings
from regnotify.db.models import HELD_PREFIX

if TYPE_CHECKING:
    from regnotify.delivery.queue import Claimed

MAX_TRACKED = 10_000
HELD_SLOW = HELD_PREFIX + "slow"
HELD_QUARANTINED = HELD_PREFIX + "quarantined"


class Verdict(Enum):
    START = "start"  # send now
    WAIT = "wait"  # a fast destination at its limit: wait in the worker for one of its sends to end
    HOLD = "hold"  # back to the queue, held until ``until``


@dataclass(frozen=True, slots=True)
class Admission:
    verdict: Verdict
    slow_lane: bool = False
    until: float = 0.0  # monotonic time a held delivery is due again
    reason: str = ""  # HELD_SLOW or HELD_QUARANTINED


@dataclass(eq=False)
class Destination:
    """What one worker knows about one destination."""

    name: str
    limit: int
    in_flight: int = 0
    slow: bool = False
    failures: int = 0  # consecutive sends without an answer
    quarantines: int = 0  # consecutive quarantines (a failed probe doubles the next one)
    quarantined_until: float = 0.0  # monotonic; 0 when not quarantined
    probing: bool = False  # the one send allowed after a quarantine is in flight
    answered: bool = False  # it has answered this worker at least once
    waiting: deque[Claimed] = field(default_factory=deque)
    held_notifications: set[int] = field(default_factory=set)  # whose deliveries this worker held

    @property
    def quarantined(self) -> bool:
        return self.quarantined_until > 0.0

    def idle(self) -> bool:
        return not (self.in_flight or self.waiting or self.held_notifications or self.quarantined)


@dataclass
class GateCounts:
    """Running totals for metrics and tests."""

    held: dict[str, int] = field(default_factory=lambda: {HELD_SLOW: 0, HELD_QUARANTINED: 0})
    moved_to_slow_lane: int = 0
    quarantines: int = 0


class DestinationGate:
    """Per-destination limits, lanes and quarantine for one worker (see the module docstring).

    Pure bookkeeping: the worker asks ``admit`` before each send and reports ``finished`` and
    ``moved_to_slow_lane``; the gate never touches the database or the network."""

    def __init__(self, settings: Settings, *, clock: Any = time.monotonic) -> None:
        self.max_limit = settings.per_host_concurrency
        self.slow_after = settings.destination_slow_after
        self.slow_lane_size = settings.slow_lane_concurrency
        self.failure_threshold = settings.destination_failure_threshold
        self.quarantine_base = settings.destination_quarantine_seconds
        self.quarantine_max = max(settings.destination_quarantine_max_seconds, self.quarantine_base)
        self.hold_horizon = settings.http_total_timeout + 1
        self.clock = clock
        self.slow_lane_in_flight = 0
        self.counts = GateCounts()
        self._destinations: OrderedDict[str, Destination] = OrderedDict()

    # -- state ----------------------------------------------------------------------------------
    def get(self, name: str) -> Destination:
        destination = self._destinations.get(name)
        if destination is None:
            destination = Destination(name, limit=self.max_limit)
            self._destinations[name] = destination
            if len(self._destinations) > MAX_TRACKED:
                self._forget_idle()
        else:
            self._destinations.move_to_end(name)
        return destination

    def _forget_idle(self) -> None:
        for name in list(self._destinations):
            if len(self._destinations) <= MAX_TRACKED * 9 // 10:
                break
            if self._destinations[name].idle():
                del self._destinations[name]

    def known(self) -> list[Destination]:
        return list(self._destinations.values())

    def quarantined_count(self) -> int:
        now = self.clock()
        return sum(1 for d in self._destinations.values() if d.quarantined_until > now)

    def slow_count(self) -> int:
        return sum(1 for d in self._destinations.values() if d.slow)

    # -- decisions ------------------------------------------------------------------------------
    def admit(self, destination: Destination) -> Admission:
        """May a send to ``destination`` start now? Counts it as in flight when it may."""
        now = self.clock()
        if destination.quarantined:
            if now < destination.quarantined_until or destination.probing:
                until = max(destination.quarantined_until, now + 1.0)
                if destination.probing:
                    until = now + self.hold_horizon
                return Admission(Verdict.HOLD, until=until, reason=HELD_QUARANTINED)
            destination.probing = True  # the quarantine is over: one probe
            return self._start(destination, slow_lane=True)
        if destination.in_flight >= destination.limit:
            if destination.slow:
                return Admission(Verdict.HOLD, until=now + self.hold_horizon, reason=HELD_SLOW)
            return Admission(Verdict.WAIT)
        if destination.slow and self.slow_lane_in_flight >= self.slow_lane_size:
            return Admission(Verdict.HOLD, until=now + self.hold_horizon, reason=HELD_SLOW)
        return self._start(destination, slow_lane=destination.slow)

    def _start(self, destination: Destination, *, slow_lane: bool) -> Admission:
        destination.in_flight += 1
        if slow_lane:
            self.slow_lane_in_flight += 1
        return Admission(Verdict.START, slow_lane=slow_lane)

    def count_held(self, reason: str, destination: Destination, notification_id: int) -> None:
        destination.held_notifications.add(notification_id)
        self.counts.held[reason] = self.counts.held.get(reason, 0) + 1

    def moved_to_slow_lane(self, destination: Destination) -> bool:
        """A send in the main lane has waited ``slow_after`` for an answer: the slow lane takes it.
        True when this marks the destination slow."""
        was_slow, destination.slow = destination.slow, True
        self.slow_lane_in_flight += 1
        self.counts.moved_to_slow_lane += 1
        return not was_slow

    def finished(
        self, destination: Destination, *, slow_lane: bool, answered: bool | None, seconds: float
    ) -> bool:
        """A send ended. ``answered``: True when the destination gave any answer (an HTTP status, an
        SMTP reply), False when it gave none (timed out, refused, reset), None when nothing was sent
        to it (a refused address, a config that does not open). True when this quarantines it."""
        destination.in_flight -= 1
        if slow_lane:
            self.slow_lane_in_flight -= 1
        probe, destination.probing = destination.probing, False
        if answered is None:
            return False
        if answered:
            destination.answered = True
            destination.failures = 0
            destination.quarantines = 0
            destination.quarantined_until = 0.0
            destination.limit = min(self.max_limit, destination.limit + 1)
            destination.slow = seconds >= self.slow_after
            return False
        destination.failures += 1
        destination.limit = max(1, destination.limit // 2)
        if probe or (destination.failures >= self.failure_threshold and not destination.quarantined):
            self._quarantine(destination)
            return True
        return False

    def _quarantine(self, destination: Destination) -> None:
        seconds = min(self.quarantine_max, self.quarantine_base * 2**destination.quarantines)
        seconds *= 1 + random.uniform(-0.1, 0.1)  # noqa: S311 (jitter, not a secret)
        destination.quarantines += 1
        destination.quarantined_until = self.clock() + seconds
        destination.slow = True
        self.counts.quarantines += 1

    def releasable(self, destination: Destination) -> int:
        """How many of the deliveries this worker held for ``destination`` may come back now."""
        if not destination.held_notifications:
            return 0
        if destination.quarantined:
            return 1 if self.clock() >= destination.quarantined_until and not destination.probing else 0
        room = destination.limit - destination.in_flight
        if destination.slow:
            room = min(room, self.slow_lane_size - self.slow_lane_in_flight)
        return max(0, room)
