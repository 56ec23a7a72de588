"""End to end: Distribution envelopes posted to the registry receiver, delivered to one webhook each.

Run from the repository root::

    .venv/bin/python bench/ingest.py [--rate 500] [--seconds 20]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--json PATH]

Every part is a real process, started with ``REGNOTIFY_*`` variables (127.0.0.1 allowed outbound,
worker concurrency and per-host concurrency 64, poll interval 0.05 s, as ``bench/delivery.py``):

- **API**: uvicorn serving ``create_app(settings, worker=False)``, exactly what ``regnotify serve``
  runs except that it starts no delivery worker inside (uvicorn's defaults: uvloop and httptools,
  access log on, one process). The worker side is separate ``python -m regnotify.cli worker``
  processes, one or two. The SQLite run uses the same split (API process + one worker process,
  sharing the database file in WAL mode), so the API and the worker each get a core of this 2-core
  machine, as they do on PostgreSQL; ``--sqlite-serve`` also runs SQLite with ``regnotify serve``
  itself (API and worker in one process, the embedded default) for comparison.
- **Receiver**: the separate process of ``bench/delivery.py`` (uvloop, answers 204, records the
  arrival time of each ``webhook-id``).
- **Load generator**: an aiohttp client in this process posting Distribution notification
  envelopes (``application/vnd.docker.distribution.events.v1+json``, the source token of
  ``regnotify source create``) to ``POST /api/v1/registry/events``. Each envelope holds one push of
  a new tag (so nothing is deduplicated by the tag → digest window) of a fresh digest to
  ``acme/app``, which has exactly one webhook notification (signed, ``whsec_`` secret): one event,
  one delivery. Open loop: request i is sent at ``start + i / rate`` whether or not earlier ones
  were answered (up to 512 connections).

Phases (each starts its own API and worker processes; one database per engine: a temp SQLite file,
a PostgreSQL schema of its own that is migrated with ``regnotify migrate`` and dropped at the end):

1. **At rate** on SQLite (1 worker), then on PostgreSQL with 1 and with 2 workers: ``--rate``
   envelopes/s for ``--seconds``. Answers still missing ``GRACE_SECONDS`` (15 s) after the last
   send are given up on (cancelled), so an API that cannot keep up does not stretch the run; the
   events it stored anyway are still waited for and counted.
2. **Sustainable** (SQLite, only when the first run's accepted/s fell short of ``--rate``): the same
   at 60% of the accepted/s just measured, to show latency and backlog when the API keeps up.
   ``--no-sustainable`` skips it.
3. **Saturation** on PostgreSQL with 1 and with 2 workers: ``--backlog`` events are posted first
   with no worker running (50 events per envelope, 16 requests in flight) and held back (their
   deliveries' ``next_attempt_at`` an hour ahead); the workers are started, and once each has
   logged that it runs, the backlog is made due (and ``NOTIFY`` sent) and they drain it while the
   API is idle. Start-up (a second or two per process, as long as the drain) is outside the
   measurement; the CPU figures start with the release too. This is the worker side's capacity, which a
   fixed rate below it cannot show (when one worker keeps up, two deliver the same).

Figures, per phase:

- **offered/s**: envelopes sent / time from the first to the last send (the generator's own pace;
  below ``--rate`` means this process could not keep the schedule). **accepted/s**: events stored
  with a ``received_at`` before the last send / the same time: what the API sustained during the
  load. **ingest p50/p99**: the API's response time (send -> answer) of the answered envelopes;
  "answers" counts them by HTTP status (a 503 is the API's "database unavailable", which it
  answers when no pooled connection frees up within the pool timeout).
- **delivered/s**: arrivals at the receiver during the load, counted after a warm-up of
  min(3 s, seconds / 5), divided by the rest of the load's duration. Keeping up means
  delivered/s = offered/s.
- **latency p50/p99**: receipt -> delivery, i.e. the event's ``received_at`` (stamped by the API when
  it stores the event, before its commit and its answer) to the receiver's arrival time of the
  delivery (matched by ``webhook-id`` = ``Delivery.uuid``), over every event of the phase, those
  delivered after the load ended included. Same machine, same clock.
- **backlog**: work not done yet, in two places: envelopes sent and not answered (queued in front
  of, or inside, the API) and deliveries stored but not finished (queued or in flight in the
  workers). Sampled every 0.5 s during the load; reported at the end of the load and 3 s later,
  and its growth: the least-squares slope of their sum over the load's second half, per second
  (about offered - delivered when something does not keep up; near 0 when everything does).
- **CPU**: each process's CPU time (``/proc/<pid>/stat``, all threads) over the load, as a share
  of one core and in ms per event stored during the load (idle polling included, so at low rates
  the workers' figure is mostly polling), for the API, the workers, the receiver and this process
  (the load generator); "machine" is the whole box's busy share of its 2 cores (``/proc/stat``),
  other people's work and PostgreSQL included.
- **saturation deliveries/s**: the middle 80% of the backlog's arrivals / the time between the 10%
  and the 90% arrival (leaves out start-up and the tail). **2 workers / 1 worker** is the ratio
  of those. **ratio to ceiling**: deliveries/s over the bare-aiohttp ceiling of ``bench/delivery.py``
  (median of 3 runs of 5,000 POSTs, 64 in flight, to the same receiver), measured in the same run:
  the machine is shared and noisy, so this ratio compares better between runs than the rates.

Targets (issue 6): on SQLite at 500/s, accepted/s and delivered/s >= 97% of the rate, latency p99
< 250 ms and no backlog growth (slope over the second half < 2% of the rate, and a backlog at the
end of the load under a quarter second's worth of events); two PostgreSQL workers >= 1.5x one in
the saturation run. Each is printed with PASS/MISS. ``--json PATH`` writes every figure as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, select, text, update

sys.path.insert(0, str(Path(__file__).parent))

from harness import (
    Posted,
    PostgresSchema,
    ReceiverHandle,
    Stack,
    clean_up,
    client_session,
    envelope,
    events_request,
    load_average,
    machine_info,
    make_scene,
    measure_ceiling,
    percentile,
    poll_until,
    post_envelope,
    post_open_loop,
    postgres_schema,
    print_notes,
    print_pairs,
    print_section,
    run_and_save,
    run_cli,
    sample_body,
    say,
    start_receiver,
    stop_server,
    verdict,
    wait_workers_started,
    worker_env,
)

from regnotify.config import async_driver_url
from regnotify.db import Database
from regnotify.db.models import Delivery, Event
from regnotify.db.types import utcnow
from regnotify.db.wakeup import CHANNEL as WAKEUP_CHANNEL
from regnotify.runtime.crypto import SecretBox

MAX_CONNECTIONS = 512  # the load generator's connection cap (open loop: it does not wait for answers)
SAMPLE_EVERY = 0.5  # seconds between backlog samples
SETTLE_SECONDS = 3.0  # the backlog is read again this long after the load ends
GRACE_SECONDS = 15.0  # answers still missing this long after the last send are given up on
BACKLOG_PER_ENVELOPE = 50
BACKLOG_IN_FLIGHT = 16
CEILING_REQUESTS = 5000
TARGET_RATE = 500.0
TARGET_P99_MS = 250.0
TARGET_KEEP_UP = 0.97  # accepted/s and delivered/s at least this share of the rate
TARGET_SLOPE_SHARE = 0.02  # backlog growth under this share of the rate, per second
TARGET_END_BACKLOG_SECONDS = 0.25  # backlog at the end of the load under this many seconds of events
TARGET_SCALING = 1.5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- CPU of the processes -------------------------------------------------------------------------


def proc_cpu(pid: int) -> float:
    """CPU seconds (user + system, all threads) of a process; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine, from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU time of named processes and of the machine between ``start`` and ``stop``."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}
        self.machine_before = (0, 0)
        self.started = 0.0
        self.shares: dict[str, float] = {}  # share of one core
        self.seconds: dict[str, float] = {}
        self.machine_share = 0.0  # share of all cores

    def start(self) -> None:
        self.before = {name: proc_cpu(pid) for name, pid in self.pids.items()}
        self.machine_before = machine_ticks()
        self.started = time.monotonic()

    def stop(self) -> None:
        elapsed = time.monotonic() - self.started
        for name, pid in self.pids.items():
            self.seconds[name] = proc_cpu(pid) - self.before[name]
            self.shares[name] = self.seconds[name] / elapsed
        busy, total = machine_ticks()
        self.machine_share = (busy - self.machine_before[0]) / max(1, total - self.machine_before[1])


# -- the load --------------------------------------------------------------------------------------


async def open_loop(
    api_url: str,
    token: str,
    rate: float,
    seconds: float,
    prefix: str,
    posted: list[Posted],
    ended: asyncio.Event,
) -> None:
    """Post ``rate * seconds`` one-push envelopes, request i at start + i / rate, not waiting for answers.

    ``ended`` is set after the last send; the answers then get GRACE_SECONDS more, and requests
    still unanswered are cancelled (they keep ``answered == 0``). Appends to ``posted`` as it goes.
    """
    total = int(rate * seconds)
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", prefix)
    bodies = [envelope([f"{tag}-{i}"]) for i in range(total)]  # built up front: not on the clock
    async with client_session(MAX_CONNECTIONS) as session:
        tasks = await post_open_loop(session, api_url, token, bodies, rate, posted)
        ended.set()
        _done, pending = await asyncio.wait(tasks, timeout=GRACE_SECONDS)
        for task in pending:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def post_backlog(api_url: str, token: str, events: int, prefix: str) -> tuple[list[Posted], float]:
    """``events`` pushes, BACKLOG_PER_ENVELOPE per envelope, BACKLOG_IN_FLIGHT requests at a time."""
    url, headers = events_request(api_url, token)
    tag = re.sub(r"[^A-Za-z0-9_.-]", "_", prefix)
    chunks = [
        [f"{tag}-{i}" for i in range(first, min(events, first + BACKLOG_PER_ENVELOPE))]
        for first in range(0, events, BACKLOG_PER_ENVELOPE)
    ]
    bodies = iter([envelope(chunk) for chunk in chunks])
    posted: list[Posted] = []
    async with client_session(BACKLOG_IN_FLIGHT) as session:

        async def client() -> None:
            for body in bodies:
                record = Posted(sent=time.time())
                posted.append(record)
                await post_envelope(session, url, headers, body, record)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(BACKLOG_IN_FLIGHT)))
        elapsed = time.perf_counter() - started
    return posted, elapsed


# -- one phase -------------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    engine: str
    workers: int
    kind: str  # "rate" or "saturation"
    target: bool = False  # the SQLite run at 500/s the targets are about
    rate: float = 0.0
    seconds: float = 0.0
    posted: int = 0
    http_errors: int = 0  # answers other than 200, unanswered requests included
    unanswered: int = 0  # requests cancelled GRACE_SECONDS after the load ended
    statuses: dict[str, int] = field(default_factory=dict)  # HTTP status (or "unanswered") -> requests
    not_accepted: int = 0  # answered 200 without storing the push (duplicate, rejected: a bench bug)
    first_error: str = ""
    offered_per_s: float = 0.0
    accepted: int = 0  # events stored in the phase (all of them, late ones included)
    accepted_during_load: int = 0  # events stored (received_at) before the last send
    accepted_per_s: float = 0.0
    ingest_p50_ms: float = 0.0
    ingest_p99_ms: float = 0.0
    delivered_per_s: float = 0.0
    latency_p50_ms: float = 0.0
    latency_p99_ms: float = 0.0
    latency_max_ms: float = 0.0
    backlog_end: int = 0  # deliveries pending
    backlog_settled: int = 0
    unanswered_end: int = 0  # envelopes sent and not answered yet
    unanswered_settled: int = 0
    backlog_peak: int = 0
    backlog_slope_per_s: float = 0.0
    backlog_samples: list[tuple[float, int, int]] = field(default_factory=list)  # (s, pending, unanswered)
    drained_seconds: float = 0.0  # end of load (or worker start) -> last arrival
    delivered: int = 0
    duplicates: int = 0
    complete: bool = False
    cpu_share: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_event: dict[str, float] = field(default_factory=dict)
    machine_busy: float = 0.0
    saturation_per_s: float = 0.0
    backlog_post_per_s: float = 0.0
    ceiling_per_s: float = 0.0
    ratio_to_ceiling: float = 0.0

    def record_cpu(self, meter: CpuMeter, events: int) -> None:
        """Each process's CPU share and ms per event (of ``events``), and the machine's busy share."""
        for label in meter.pids:
            self.cpu_share[label] = meter.shares[label]
            self.cpu_ms_per_event[label] = 1000 * meter.seconds[label] / max(1, events)
        self.machine_busy = meter.machine_share


def slope(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of (t, y); 0 with fewer than 2 points."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return sum((t - mean_t) * (y - mean_y) for t, y in points) / var if var else 0.0


async def unfinished(db: Database, since_event_id: int) -> int:
    """Deliveries of this phase's events that are not finished (queued or in flight)."""
    async with db.read() as session:
        value = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .where(Delivery.event_id > since_event_id, Delivery.state == "pending")
        )
        return int(value or 0)


async def stored_events(db: Database, since_event_id: int, *, until: float | None = None) -> int:
    """Events stored after ``since_event_id`` (with ``received_at`` up to ``until``, a unix time)."""
    query = select(func.count()).select_from(Event).where(Event.id > since_event_id)
    if until is not None:
        query = query.where(Event.received_at <= datetime.fromtimestamp(until, UTC))
    async with db.read() as session:
        return int(await session.scalar(query) or 0)


async def last_event_id(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.coalesce(func.max(Event.id), 0))) or 0)


async def phase_rows(db: Database, since_event_id: int) -> list[tuple[str, float]]:
    """(delivery uuid, event received_at as a unix time) of this phase's deliveries."""
    async with db.read() as session:
        rows = await session.execute(
            select(Delivery.uuid, Event.received_at)
            .join(Event, Event.id == Delivery.event_id)
            .where(Event.id > since_event_id)
        )
        return [(u, r.timestamp()) for u, r in rows.all()]


async def wait_delivered(
    receiver: ReceiverHandle, stack: Stack, expected: int, deadline: float, label: str
) -> bool:
    unique = 0

    async def delivered() -> bool:
        nonlocal unique
        await stack.check()
        unique = (await receiver.stats())["unique"]
        return unique >= expected

    return await poll_until(delivered, deadline, lambda: f"{label}: {unique}/{expected} delivered")


def summarise_latency(phase: Phase, rows: list[tuple[str, float]], arrivals: dict[str, float]) -> None:
    latencies = [(arrivals[u] - r) * 1000 for u, r in rows if u in arrivals]
    phase.delivered = len(latencies)
    phase.latency_p50_ms = percentile(latencies, 50)
    phase.latency_p99_ms = percentile(latencies, 99)
    phase.latency_max_ms = max(latencies, default=float("nan"))


async def run_at_rate(
    engine: Engine, name: str, *, workers: int, rate: float, seconds: float, serve_with_worker: bool = False
) -> Phase:
    phase = Phase(name=name, engine=engine.name, workers=workers, kind="rate", rate=rate, seconds=seconds)
    db, receiver = engine.db, engine.receiver
    stack = Stack(engine.env, engine.logs, serve_with_worker=serve_with_worker)
    try:
        await stack.start_api()
        await stack.start_workers(0 if serve_with_worker else workers)
        await asyncio.sleep(2.0)  # let the workers import and make their first claim
        await stack.check()
        since = await last_event_id(db)
        await receiver.reset()
        meter = CpuMeter(
            {**stack.pids(), "receiver": receiver.process.pid or 0, "load generator": os.getpid()}
        )
        say(f"{name}: {rate:g} envelopes/s for {seconds:g}s")
        posted: list[Posted] = []
        ended = asyncio.Event()
        at_end: dict[str, float] = {}

        def unanswered() -> int:
            return sum(1 for p in posted if p.answered == 0.0)

        async def watch() -> dict[str, float]:
            """Sample the backlog during the load; at its end, read it now and SETTLE_SECONDS later."""
            started = time.monotonic()
            while not ended.is_set():
                pending = await unfinished(db, since)
                phase.backlog_samples.append((time.monotonic() - started, pending, unanswered()))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(ended.wait(), SAMPLE_EVERY)
            at_end["time"] = time.time()
            meter.stop()
            arrivals = await receiver.arrivals()
            phase.backlog_end = await unfinished(db, since)
            phase.unanswered_end = unanswered()
            await asyncio.sleep(SETTLE_SECONDS)
            phase.backlog_settled = await unfinished(db, since)
            phase.unanswered_settled = unanswered()
            return arrivals

        meter.start()
        load_started = time.time()
        watcher = asyncio.create_task(watch())
        await open_loop(stack.api_url, engine.token, rate, seconds, name, posted, ended)
        arrivals_at_end = await watcher
        load_ended = at_end["time"]

        phase.posted = len(posted)
        failed = [p for p in posted if p.status != 200]
        phase.http_errors = len(failed)
        phase.unanswered = sum(1 for p in posted if p.answered == 0.0)
        phase.not_accepted = sum(1 for p in posted if p.status == 200 and p.accepted != 1)
        phase.first_error = (f"{failed[0].status} {failed[0].error}" if failed else "")[:160]
        for record in posted:
            key = str(record.status) if record.answered else "unanswered"
            phase.statuses[key] = phase.statuses.get(key, 0) + 1
        phase.offered_per_s = len(posted) / max(1e-9, load_ended - load_started)
        phase.accepted_during_load = await stored_events(db, since, until=load_ended)
        phase.accepted_per_s = phase.accepted_during_load / max(1e-9, load_ended - load_started)
        answer_ms = [(p.answered - p.sent) * 1000 for p in posted if p.answered]
        phase.ingest_p50_ms = percentile(answer_ms, 50)
        phase.ingest_p99_ms = percentile(answer_ms, 99)
        warm = min(3.0, seconds / 5)
        in_window = [t for t in arrivals_at_end.values() if load_started + warm <= t <= load_ended]
        phase.delivered_per_s = len(in_window) / max(1e-9, load_ended - load_started - warm)
        second_half = [(t, y + u) for t, y, u in phase.backlog_samples if t >= seconds / 2]
        phase.backlog_slope_per_s = slope(second_half)
        phase.backlog_peak = max((y + u for _, y, u in phase.backlog_samples), default=0)
        phase.record_cpu(meter, phase.accepted_during_load)
        say(
            f"{name}: offered {phase.offered_per_s:,.0f}/s, accepted {phase.accepted_per_s:,.0f}/s, "
            f"delivered {phase.delivered_per_s:,.0f}/s; at the end {phase.unanswered_end:,} envelopes "
            f"unanswered and {phase.backlog_end:,} deliveries pending; waiting for the rest"
        )
        phase.accepted = await stored_events(db, since)
        deadline = time.monotonic() + max(60.0, phase.accepted / 100)
        phase.complete = await wait_delivered(receiver, stack, phase.accepted, deadline, name)
        arrivals = await receiver.arrivals()
        phase.drained_seconds = max(arrivals.values(), default=load_ended) - load_ended
        phase.duplicates = (await receiver.stats())["duplicates"]
        summarise_latency(phase, await phase_rows(db, since), arrivals)
        say(
            f"{name}: latency p50 {phase.latency_p50_ms:,.0f} ms, p99 {phase.latency_p99_ms:,.0f} ms "
            f"({phase.delivered:,}/{phase.accepted:,} delivered)"
        )
    finally:
        await stack.stop()
    return phase


async def hold_backlog(db: Database, since: int, *, until: datetime) -> None:
    """Make the phase's pending deliveries due at ``until`` (and wake PostgreSQL's listeners)."""
    async with db.write() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.event_id > since, Delivery.state == "pending")
            .values(next_attempt_at=until)
        )
        if db.dialect == "postgresql":
            await session.execute(text(f"NOTIFY {WAKEUP_CHANNEL}"))


async def run_saturation(engine: Engine, name: str, *, workers: int, events: int) -> Phase:
    phase = Phase(name=name, engine=engine.name, workers=workers, kind="saturation")
    db, receiver = engine.db, engine.receiver
    stack = Stack(engine.env, engine.logs)
    try:
        await stack.start_api()
        since = await last_event_id(db)
        say(f"{name}: posting a backlog of {events:,} events with no worker running")
        posted, elapsed = await post_backlog(stack.api_url, engine.token, events, name)
        phase.posted = len(posted)
        phase.http_errors = sum(p.status != 200 for p in posted)
        phase.accepted = sum(p.accepted for p in posted)
        phase.backlog_post_per_s = phase.accepted / elapsed
        phase.backlog_end = await unfinished(db, since)
        say(f"{name}: {phase.backlog_end:,} pending (posted at {phase.backlog_post_per_s:,.0f} events/s)")
        await receiver.reset()
        # Held back until every worker is up: a worker process takes a second or two to start, about
        # as long as the drain itself, so starting them on a due backlog measured one worker alone
        # for much of a two-worker drain.
        await hold_backlog(db, since, until=utcnow() + timedelta(hours=1))
        await stack.start_workers(workers)
        await wait_workers_started(stack, workers)
        meter = CpuMeter({**stack.pids(), "receiver": receiver.process.pid or 0})
        meter.start()
        started = time.time()
        await hold_backlog(db, since, until=utcnow())  # due now: the workers' next poll takes it
        phase.complete = await wait_delivered(
            receiver, stack, phase.accepted, time.monotonic() + max(120.0, events / 50), name
        )
        meter.stop()
        arrivals = sorted((await receiver.arrivals()).values())
        if len(arrivals) >= 10:
            lo, hi = int(0.1 * len(arrivals)), int(0.9 * len(arrivals)) - 1
            phase.saturation_per_s = (hi - lo) / max(1e-9, arrivals[hi] - arrivals[lo])
        phase.drained_seconds = (arrivals[-1] - started) if arrivals else 0.0
        phase.duplicates = (await receiver.stats())["duplicates"]
        phase.delivered = len(arrivals)
        phase.record_cpu(meter, phase.delivered)
        say(
            f"{name}: {workers} worker(s) drained {phase.delivered:,} at {phase.saturation_per_s:,.0f}/s "
            f"(middle 80%), {phase.drained_seconds:.1f}s from worker start"
        )
    finally:
        await stack.stop()
    return phase


# -- set-up per engine -----------------------------------------------------------------------------


@dataclass
class Engine:
    """One database, set up by ``prepare``, and what every phase on it uses."""

    name: str  # sqlite or postgresql
    env: dict[str, str]  # of the API and worker processes
    db: Database
    receiver: ReceiverHandle
    token: str  # the source token
    logs: Path


async def prepare(name: str, url: str, data_dir: Path, logs: Path, receiver: ReceiverHandle) -> Engine:
    """Migrate with ``regnotify migrate``, create acme/app with one webhook and a source token."""
    secret_key = Fernet.generate_key().decode()
    env = worker_env(url, data_dir, secret_key)
    await run_cli(env, logs, "migrate")
    db = Database(async_driver_url(url))
    try:
        await make_scene(db, SecretBox(secret_key), receiver.hook_url, 1)
    finally:
        await db.dispose()
    created = await run_cli(env, logs, "source", "create", "bench-registry", "--namespace", "acme")
    token = created.strip().splitlines()[-1]
    return Engine(name, env, Database(async_driver_url(url)), receiver, token, logs)


# -- the report ------------------------------------------------------------------------------------


def print_phase(p: Phase) -> None:
    print(f"  -- {p.name}: {p.engine}, {p.workers} worker process(es) --")
    if p.kind == "rate":
        print(
            f"     offered / accepted      {p.offered_per_s:,.0f} / {p.accepted_per_s:,.0f} events/s "
            f"during the load (target {p.rate:g}/s for {p.seconds:g}s: {p.posted:,} envelopes sent)"
        )
        print(
            f"     stored in all           {p.accepted:,} events; {p.http_errors:,} requests not answered "
            f"200, of which {p.unanswered:,} still unanswered {GRACE_SECONDS:g}s after the load; "
            f"{p.not_accepted} answered 200 without storing the push"
        )
        print(f"     ingest answer           p50 {p.ingest_p50_ms:,.1f} ms  p99 {p.ingest_p99_ms:,.1f} ms")
        print(f"     delivered during load   {p.delivered_per_s:,.0f} deliveries/s")
        print(
            f"     receipt -> delivery     p50 {p.latency_p50_ms:,.1f} ms  p99 {p.latency_p99_ms:,.1f} ms  "
            f"max {p.latency_max_ms:,.0f} ms ({p.delivered:,} delivered, {p.duplicates} duplicates)"
        )
        print(
            f"     backlog at the end      {p.unanswered_end:,} envelopes unanswered + {p.backlog_end:,} "
            f"deliveries pending; {SETTLE_SECONDS:g}s later {p.unanswered_settled:,} + {p.backlog_settled:,}"
        )
        print(
            f"     backlog growth          {p.backlog_slope_per_s:+,.1f}/s over the load's second half "
            f"(peak {p.backlog_peak:,}); all delivered {p.drained_seconds:.1f}s after the load"
        )
    else:
        print(
            f"     backlog                 {p.accepted:,} events posted with no worker "
            f"(at {p.backlog_post_per_s:,.0f} events/s, {BACKLOG_PER_ENVELOPE} per envelope)"
        )
        print(
            f"     drained at              {p.saturation_per_s:,.0f} deliveries/s (middle 80%); "
            f"{p.delivered:,} in {p.drained_seconds:.1f}s from worker start, {p.duplicates} duplicates"
        )
        print(
            f"     ratio to ceiling        {p.ratio_to_ceiling:.3f} "
            f"(ceiling {p.ceiling_per_s:,.0f} requests/s)"
        )
    cpu = ", ".join(
        f"{name} {p.cpu_share[name]:.0%} ({p.cpu_ms_per_event[name]:.2f} ms/event)" for name in p.cpu_share
    )
    print(f"     CPU (share of one core) {cpu}; machine {p.machine_busy:.0%} of {os.cpu_count()} cores")
    if p.first_error:
        counts = ", ".join(f"{k}: {v:,}" for k, v in sorted(p.statuses.items()))
        print(f"     answers                 {counts}; first error: {p.first_error}")
    if not p.complete:
        print("     (INCOMPLETE: not everything was delivered before the deadline)")


def rate_verdicts(p: Phase) -> list[tuple[str, str, bool]]:
    rate = p.rate
    return [
        (
            "accepted/s >= 97% of rate",
            f"{p.accepted_per_s:,.0f} / {rate:g}",
            p.accepted_per_s >= TARGET_KEEP_UP * rate and not p.http_errors,
        ),
        (
            "delivered/s >= 97% of rate",
            f"{p.delivered_per_s:,.0f} / {rate:g}",
            p.delivered_per_s >= TARGET_KEEP_UP * rate,
        ),
        ("p99 receipt -> delivery < 250 ms", f"{p.latency_p99_ms:,.0f} ms", p.latency_p99_ms < TARGET_P99_MS),
        (
            "no backlog growth",
            f"{p.backlog_slope_per_s:+,.1f}/s, {p.backlog_end + p.unanswered_end:,} at end",
            p.backlog_slope_per_s < TARGET_SLOPE_SHARE * rate
            and p.backlog_end + p.unanswered_end < TARGET_END_BACKLOG_SECONDS * rate,
        ),
    ]


def report(
    machine: dict[str, str], ceiling: dict[str, float], phases: list[Phase], skipped: list[str]
) -> None:
    print_pairs("machine", machine)
    print_section("figures")
    for label, per_s in ceiling.items():
        print(f"  ceiling ({label}): {per_s:,.0f} requests/s (bare aiohttp, 64 in flight, same receiver)")
    for p in phases:
        print_phase(p)
    print_notes(skipped)
    print_section("targets")
    for p in phases:
        if p.target:
            for label, value, ok in rate_verdicts(p):
                print(f"  {p.name:<18} {label:<34} {value:<26} {verdict(ok)}")
    for p in phases:
        if p.kind == "rate" and not p.target:
            short = ("accepted/s", "delivered/s", "p99", "backlog")
            line = ", ".join(
                f"{n} {verdict(ok)}" for n, (_l, _v, ok) in zip(short, rate_verdicts(p), strict=True)
            )
            print(f"  {p.name:<18} (same checks, not a target) {line}")
    saturation = {p.workers: p for p in phases if p.kind == "saturation"}
    if 1 in saturation and 2 in saturation:
        ratio = saturation[2].saturation_per_s / max(1e-9, saturation[1].saturation_per_s)
        value = (
            f"{ratio:.2f}x ({saturation[2].saturation_per_s:,.0f} / {saturation[1].saturation_per_s:,.0f})"
        )
        print(
            f"  {'pg saturation':<18} {'2 workers >= 1.5x one':<34} {value:<26} "
            f"{verdict(ratio >= TARGET_SCALING)}"
        )
    at_rate = {p.workers: p for p in phases if p.kind == "rate" and p.engine == "postgresql"}
    if 1 in at_rate and 2 in at_rate:
        ratio = at_rate[2].delivered_per_s / max(1e-9, at_rate[1].delivered_per_s)
        print(
            f"  {'pg at rate':<18} {'2 workers / one (informative)':<34} {f'{ratio:.2f}x':<26} "
            "(both deliver what is offered when one keeps up)"
        )


# -- main ------------------------------------------------------------------------------------------


async def run_postgresql(
    schema: PostgresSchema,
    workdir: Path,
    logs: Path,
    receiver: ReceiverHandle,
    ceiling: dict[str, float],
    args: argparse.Namespace,
) -> list[Phase]:
    """On ``schema``: at rate with 1 and with 2 workers, then (``--backlog``) the saturation runs
    next to a ceiling measured again."""
    engine = await prepare("postgresql", schema.url, workdir / "pg", logs, receiver)
    phases: list[Phase] = []
    try:
        for workers in (1, 2):
            phases.append(
                await run_at_rate(
                    engine, f"pg-{workers}", workers=workers, rate=args.rate, seconds=args.seconds
                )
            )
        if args.backlog > 0:
            ceiling["next to saturation"], _cpu = await measure_ceiling(
                receiver, sample_body(), CEILING_REQUESTS
            )
            say(f"ceiling: {ceiling['next to saturation']:,.0f} requests/s")
            for workers in (1, 2):
                p = await run_saturation(
                    engine, f"pg-saturation-{workers}", workers=workers, events=args.backlog
                )
                p.ceiling_per_s = ceiling["next to saturation"]
                p.ratio_to_ceiling = p.saturation_per_s / p.ceiling_per_s
                phases.append(p)
    finally:
        await engine.db.dispose()
    return phases


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    machine = machine_info(
        "load average (start)",
        [
            ("uvicorn", "fastapi"),
            ("aiohttp", "sqlalchemy"),
            ("psycopg", "aiosqlite"),
            ("uvloop", "httptools"),
        ],
    )
    say(f"machine: {machine['cpus']} x {machine['cpu model']}, load {machine['load average (start)']}")
    receiver = start_receiver()
    say(f"receiver process {receiver.process.pid} on {receiver.hook_url}")
    workdir = Path(tempfile.mkdtemp(prefix="regnotify-ingest-"))
    logs = workdir / "logs"
    logs.mkdir()
    phases: list[Phase] = []
    skipped: list[str] = []
    ceiling: dict[str, float] = {}
    try:
        ceiling["start"], _cpu = await measure_ceiling(receiver, sample_body(), CEILING_REQUESTS)
        say(f"ceiling: {ceiling['start']:,.0f} requests/s")

        sqlite_url = f"sqlite:///{workdir / 'sqlite' / 'regnotify.db'}"
        say("sqlite: migrating, creating acme/app with one webhook and a source token")
        engine = await prepare("sqlite", sqlite_url, workdir / "sqlite", logs, receiver)
        try:
            first = await run_at_rate(engine, "sqlite-1", workers=1, rate=args.rate, seconds=args.seconds)
            first.target = args.rate == TARGET_RATE
            phases.append(first)
            if args.sqlite_serve:
                phases.append(
                    await run_at_rate(
                        engine,
                        "sqlite-serve",
                        workers=1,
                        rate=args.rate,
                        seconds=args.seconds,
                        serve_with_worker=True,
                    )
                )
            if args.sustainable and first.accepted_per_s < TARGET_KEEP_UP * args.rate:
                # the API did not keep up: also show what a rate it does keep up with looks like
                rate = max(10.0, 10 * int(0.6 * first.accepted_per_s / 10))
                phases.append(
                    await run_at_rate(
                        engine, f"sqlite-1@{rate:g}", workers=1, rate=rate, seconds=args.seconds
                    )
                )
        finally:
            await engine.db.dispose()

        if args.postgres_url:
            async with postgres_schema(args.postgres_url, machine, skipped) as schema:
                if schema is not None:
                    say(
                        f"postgresql {schema.version}: schema {schema.schema}; "
                        "migrating with `regnotify migrate`"
                    )
                    phases += await run_postgresql(schema, workdir, logs, receiver, ceiling, args)
        else:
            skipped.append("postgresql: skipped (no --postgres-url given)")
            say("PostgreSQL part skipped: no --postgres-url given")
    finally:
        stop_server(receiver.process)
        clean_up(workdir, keep=args.keep_logs, shown=logs)

    machine["load average (end)"] = load_average()
    report(machine, ceiling, phases, skipped)
    return {
        "machine": machine,
        "rate": args.rate,
        "seconds": args.seconds,
        "ceiling_per_s": ceiling,
        "phases": [asdict(p) for p in phases],
        "skipped": skipped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rate", type=float, default=TARGET_RATE, help="envelopes (events) per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="duration of each fixed-rate load")
    parser.add_argument("--postgres-url", default=None, help="postgresql://user@host:port/db; unset skips it")
    parser.add_argument(
        "--backlog", type=int, default=3000, help="events of each PostgreSQL saturation run; 0 skips them"
    )
    parser.add_argument(
        "--sqlite-serve", action="store_true", help="also run SQLite with `regnotify serve` (worker inside)"
    )
    parser.add_argument(
        "--no-sustainable",
        dest="sustainable",
        action="store_false",
        help="skip the extra SQLite run at 60%% of the accepted rate when --rate was not kept up with",
    )
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (path printed)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    if args.rate <= 0 or args.seconds <= 0:
        parser.error("--rate and --seconds must be positive")
    run_and_save(amain, args)


if __name__ == "__main__":
    main()
