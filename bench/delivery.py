"""Delivery throughput, latency and memory of the regnotify worker, against a raw aiohttp ceiling.

Run from the repository root::

    .venv/bin/python bench/delivery.py [--deliveries 5000]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--skip-rss]
        [--loop {uvloop,asyncio}] [--profile]

What one run measures (progress lines go to stdout, then a summary table):

a. **Ceiling.** A bare aiohttp client POSTs the ``repo_push`` sample payload N times, 64 requests
   in flight, to a local aiohttp receiver answering 204. It runs on the event loop of ``--loop``,
   as the drains do: the whole benchmark is one process on one loop, so ceiling and worker are
   compared on the same loop. The default is uvloop when it is installed, as ``regnotify worker``
   runs (``.venv/bin/pip install uvloop`` if it is missing); ``--loop asyncio`` runs the default
   asyncio loop. The machine section and the JSON (``loop``) name the loop.
   The receiver is a separate process (uvloop when installed, whatever ``--loop`` says), so client
   and receiver each get a core; it is the same receiver for every phase. Each ceiling is the median
   of 3 runs, and it is measured again right before each drain: each ratio uses the ceiling
   measured next to it, which keeps a noisy shared machine from skewing the comparison. The
   client's CPU time per request is reported too.

b. **Drain.** On SQLite (a temp file) and on PostgreSQL (a schema of its own, dropped at the
   end): 10 webhook notifications (signed, ``whsec_`` secret) on one repository, N/10 repo_push
   events recorded with ``record_event`` in batches of 50 events per write transaction, so N
   deliveries are pending. Then one ``Worker`` (concurrency 64, per-host 64, poll 0.05 s) runs
   in this process until every delivery is ``succeeded``. Just before it starts, what the process
   holds is frozen out of garbage collection (``runtime.heap.freeze_startup_objects``), as
   ``regnotify worker`` does once it has started: without it, full collections walk the bench's
   own set-up and cost the drain 80-140 µs per delivery. Progress is polled every 0.1 s by
   counting only the pending and failed rows (an index range), since the poll's CPU lands on the
   worker's figure. Reported:

   - deliveries/s = N / (last ``finished_at`` - worker start), and **ratio** = that / ceiling.
     The ratio is the share of the bare HTTP client's speed regnotify keeps once each request
     also costs a claim, a decrypt, a signature and a finish transaction with its attempt row.
     1.0 would mean the database work is free; 0.5 means half the time goes to bookkeeping.
     When the worker is CPU-bound (see "worker CPU": near 100% of one core), the ratio is about
     (client CPU per request in the ceiling) / (worker CPU per delivery), so those two figures
     say where to look. "DB connections opened" counts new connections during the drain (pool
     churn).
   - backlog latency p50/p99: event stored (``Event.received_at``) to the receiver's arrival
     time (matched by the ``webhook-id`` header = ``Delivery.uuid``) and to ``finished_at``.
     With the whole backlog queued before the worker starts, this is mostly time spent waiting
     in the queue (about N / rate / 2 at p50), not per-delivery overhead.
   - steady latency p50/p99: afterwards, with the worker still running, events arrive one per
     transaction at 30% of the measured drain rate (capped at 200 deliveries/s) for a few
     seconds: this is the latency a user sees when the worker keeps up (poll interval, NOTIFY).

c. **Memory.** A ``python -m regnotify.cli worker`` subprocess (same settings, via
   ``REGNOTIFY_*`` variables) is started on an empty SQLite database to get its idle RSS, then on
   one holding 100,000 pending deliveries (bulk-inserted with Core ``executemany``); ``VmHWM``
   and ``VmRSS`` from ``/proc/<pid>/status`` are sampled while it drains for up to 60 s, and
   how many it delivered is reported.

Targets (from the issue) are printed with PASS/MISS: ratio >= 0.5 on SQLite, >= 0.4 on
PostgreSQL, peak RSS < 200 MB (decimal megabytes, 200e6 bytes). ``--breakdown`` additionally
wraps the worker's ``claim``/``finish``/``send`` to report call counts and wall time per call,
and samples ``pg_stat_activity`` wait events on PostgreSQL (a little overhead, so it is off for
the headline figures). ``--json PATH`` also writes every figure as JSON.

``--profile`` adds a CPU breakdown per delivery of each drain: py-spy (a sampling profiler; not a
declared dependency: ``.venv/bin/pip install py-spy`` puts it in ``.venv/bin``; it is looked for next
to this Python, then on PATH, and without it the breakdown is skipped with a message, the run goes
on) records this process 1000 times a second, non-blocking, from the worker's
start until every delivery has succeeded (attaching to one's own process needs root or
``kernel.yama.ptrace_scope=0``). Its stacks are sorted into the buckets of
``harness.PROFILE_BUCKETS`` (claim, record outcomes, log lines, metrics, signature, database, HTTP
client, event loop, ...: first rule that matches a frame wins), and each bucket's share of the
samples times the drain's worker CPU per delivery gives its microseconds per delivery. Next to each
drain, one extra ceiling run (not one of the three whose median is the ceiling) is profiled the same
way, so the bare client's own microseconds per request for the HTTP client and the event loop stand
beside the worker's. Garbage collection has no frame of its own (its samples land on whatever line
triggered it), so the time spent in collections meanwhile is printed under each table too. The
drain figures of a profiled run carry the sampling overhead (py-spy's own CPU competes for the
cores; the report says how much), so take the headline figures from a run without ``--profile``.
The JSON has each drain's table under ``profile`` and the ceiling run's under ``ceiling_profile``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import signal
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from cryptography.fernet import Fernet
from sqlalchemy import event, func, insert, select, text

sys.path.insert(0, str(Path(__file__).parent))

from harness import (
    CONCURRENCY,
    NOTIFICATIONS,
    PROFILE_BUCKET_NAMES,
    PROFILE_RATE,
    REPO,
    Profiler,
    ReceiverHandle,
    add_loop_argument,
    bench_settings,
    ceiling_run,
    clean_up,
    default_loop,
    log_tail,
    loop_description,
    machine_info,
    make_scene,
    measure_ceiling,
    percentile,
    poll_until,
    postgres_schema,
    print_notes,
    print_pairs,
    print_section,
    process_cpu,
    record_backlog,
    run_and_save,
    sample_body,
    say,
    start_receiver,
    stop_server,
    verdict,
    worker_env,
)

from regnotify.config import async_driver_url
from regnotify.db import Database, migrate
from regnotify.db.models import Delivery, Event, Notification, Repository
from regnotify.delivery import worker as worker_module
from regnotify.delivery.senders import build_senders
from regnotify.delivery.worker import Worker
from regnotify.events import get_event_kind
from regnotify.ingest import record_event
from regnotify.runtime.crypto import SecretBox
from regnotify.runtime.heap import freeze_startup_objects

T = TypeVar("T")

RSS_DELIVERIES = 100_000
TARGET_RATIO = {"sqlite": 0.5, "postgresql": 0.4}
TARGET_RSS_BYTES = 200_000_000


# -- b. draining deliveries ------------------------------------------------------------------------


@dataclass
class Breakdown:
    """Call counts and cumulative wall time of the worker's steps (``--breakdown``)."""

    calls: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    claimed: int = 0

    def wrap(self, name: str, target: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
        @functools.wraps(target)
        async def timed(*args: Any, **kwargs: Any) -> T:
            started = time.perf_counter()
            try:
                result = await target(*args, **kwargs)
            finally:
                self.calls[name] = self.calls.get(name, 0) + 1
                self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - started
            if name == "claim":
                self.claimed += len(result)  # type: ignore[arg-type]
            return result

        return timed


@contextlib.contextmanager
def instrumented(breakdown: Breakdown | None) -> Iterator[None]:
    """Wrap the claim, the finisher's batch writes ("finish", one call per batch of outcomes) and
    the send as the worker sees them, for the block's duration."""
    if breakdown is None:
        yield
        return
    Finisher = worker_module.Finisher  # the one the worker uses (delivery/hot_path.py)
    saved_claim, saved_write, saved_send = worker_module.claim, Finisher._write, Worker.send
    worker_module.claim = breakdown.wrap("claim", saved_claim)  # type: ignore[assignment]
    Finisher._write = breakdown.wrap("finish", saved_write)  # type: ignore[method-assign]
    Worker.send = breakdown.wrap("send", saved_send)  # type: ignore[method-assign]
    try:
        yield
    finally:
        worker_module.claim = saved_claim  # type: ignore[assignment]
        Finisher._write = saved_write  # type: ignore[method-assign]
        Worker.send = saved_send  # type: ignore[method-assign]


@dataclass
class DrainResult:
    engine: str
    deliveries: int = 0
    ingest_per_s: float = 0.0
    ceiling_per_s: float = 0.0
    ceiling_cpu_ms: float = 0.0  # client CPU per request in the ceiling run
    drained_per_s: float = 0.0
    cpu_ms_per_delivery: float = 0.0  # this process's CPU during the drain, per delivery
    cpu_share: float = 0.0  # that CPU time / the drain's wall time (1.0 = one core saturated)
    connections_opened: int = 0  # new database connections during the drain
    ratio: float = 0.0
    seconds: float = 0.0
    duplicates: int = 0
    backlog_arrival_p50_ms: float = 0.0
    backlog_arrival_p99_ms: float = 0.0
    backlog_finished_p50_ms: float = 0.0
    backlog_finished_p99_ms: float = 0.0
    steady_deliveries: int = 0
    steady_rate: float = 0.0
    steady_arrival_p50_ms: float = 0.0
    steady_arrival_p99_ms: float = 0.0
    steady_finished_p50_ms: float = 0.0
    steady_finished_p99_ms: float = 0.0
    complete: bool = False
    breakdown: dict[str, Any] | None = None
    pg_waits: dict[str, int] | None = None
    profile: dict[str, Any] | None = None  # --profile: the drain's CPU per bucket (CpuProfile.figures)
    ceiling_profile: dict[str, Any] | None = None  # --profile: one ceiling run's, per request


async def count_states(db: Database, *, unfinished_only: bool = False) -> dict[str, int]:
    """Deliveries by state; ``unfinished_only`` counts only the states a drain waits on, which the
    ``(state, next_attempt_at)`` index answers without reading the growing succeeded rows (the
    progress poll runs in the worker's process, so its cost lands on the worker's CPU figure)."""
    query = select(Delivery.state, func.count()).group_by(Delivery.state)
    if unfinished_only:
        query = query.where(Delivery.state.in_(("pending", "failed")))
    async with db.read() as session:
        rows = await session.execute(query)
        return {state: int(n) for state, n in rows.all()}


async def delivery_times(db: Database, source: str) -> list[tuple[str, datetime, datetime | None, str]]:
    """(uuid, event received_at, finished_at, state) of the deliveries of events from ``source``."""
    async with db.read() as session:
        rows = await session.execute(
            select(Delivery.uuid, Event.received_at, Delivery.finished_at, Delivery.state)
            .join(Event, Event.id == Delivery.event_id)
            .where(Event.source == source)
        )
        return [(u, r, f, s) for u, r, f, s in rows.all()]


def latencies(
    rows: list[tuple[str, datetime, datetime | None, str]], arrivals: dict[str, float]
) -> tuple[list[float], list[float]]:
    """Milliseconds from stored to arrival, and from stored to finished."""
    to_arrival = [(arrivals[u] - r.timestamp()) * 1000 for u, r, _f, _s in rows if u in arrivals]
    to_finish = [(f - r).total_seconds() * 1000 for _u, r, f, _s in rows if f is not None]
    return to_arrival, to_finish


async def sample_pg_waits(db: Database, stop: asyncio.Event, into: dict[str, int]) -> None:
    """Count wait events of the other sessions of this database, every 50 ms (PostgreSQL)."""
    query = text(
        "SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU/running') AS w, count(*) "
        "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
        "AND state = 'active' GROUP BY 1"
    )
    async with db.engine.connect() as conn:
        while not stop.is_set():
            for wait, n in (await conn.execute(query)).all():
                into[wait] = into.get(wait, 0) + int(n)
            await conn.commit()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.05)


async def wait_for_states(db: Database, total: int, deadline: float, label: str) -> bool:
    """Poll until ``total`` deliveries are succeeded; False at the deadline or when one failed."""
    states: dict[str, int] = {}

    async def succeeded() -> bool | None:
        nonlocal states
        states = await count_states(db, unfinished_only=True)
        if not states:  # nothing pending or failed: check the whole count once
            states = await count_states(db)
            return states.get("succeeded", 0) >= total or None
        if states.get("failed"):
            say(f"{label}: {states['failed']} deliveries FAILED; see delivery_attempts")
            return None
        return False

    return await poll_until(
        succeeded, deadline, lambda: f"{label}: {states.get('pending', 0)} of {total} still pending"
    )


async def profile_ceiling(
    engine: str, receiver: ReceiverHandle, body: bytes, n: int
) -> dict[str, Any] | None:
    """One more ceiling run under py-spy (not a headline figure): the bare client's CPU per request
    in each bucket; None when py-spy cannot run."""
    profiler = await Profiler.start(f"{engine} ceiling")
    if profiler is None:
        return None
    try:
        rate, cpu_ms = await ceiling_run(receiver, body, n)
    finally:
        profile = await profiler.stop()
    if profile is None:
        return None
    say(f"{engine}: profiled ceiling run {rate:,.0f} requests/s, {profile.total:,} samples")
    return {"requests_per_s": rate, **profile.figures(cpu_ms, "request", n)}


async def drain(
    engine: str,
    url: str,
    receiver: ReceiverHandle,
    body: bytes,
    n: int,
    workdir: Path,
    *,
    steady_seconds: float,
    breakdown: bool,
    profile: bool,
) -> DrainResult:
    result = DrainResult(engine=engine)
    say(f"{engine}: measuring the ceiling next to this drain")
    result.ceiling_per_s, result.ceiling_cpu_ms = await measure_ceiling(receiver, body, n)
    say(f"{engine}: ceiling {result.ceiling_per_s:,.0f} requests/s ({result.ceiling_cpu_ms:.2f} ms CPU each)")
    if profile:
        result.ceiling_profile = await profile_ceiling(engine, receiver, body, n)

    secret_key = Fernet.generate_key().decode()
    box = SecretBox(secret_key)
    settings = bench_settings(url, workdir / f"data-{engine}", secret_key)
    db = Database(async_driver_url(url))
    profiler: Profiler | None = None
    try:
        await migrate(db.engine)
        repository = await make_scene(db, box, receiver.hook_url, NOTIFICATIONS)
        events = max(1, n // NOTIFICATIONS)
        total = events * NOTIFICATIONS
        result.deliveries = total

        say(f"{engine}: recording {events} events -> {total} deliveries")
        started = time.perf_counter()
        await record_backlog(db, repository, events, source="backlog")
        result.ingest_per_s = total / (time.perf_counter() - started)
        say(f"{engine}: recorded at {result.ingest_per_s:,.0f} deliveries/s; starting the worker")

        await receiver.reset()
        connections = 0

        def opened(*_args: Any) -> None:
            nonlocal connections
            connections += 1

        event.listen(db.engine.sync_engine, "connect", opened)
        senders = build_senders(settings, db)
        timing = Breakdown() if breakdown else None
        waits: dict[str, int] = {}
        stop_sampling = asyncio.Event()
        sampler = (
            asyncio.create_task(sample_pg_waits(db, stop_sampling, waits))
            if breakdown and db.dialect == "postgresql"
            else None
        )
        with instrumented(timing):
            worker = Worker(db, settings, senders, box, name="bench-worker")
            stop = asyncio.Event()
            # as `regnotify worker` does once started: what exists now (the bench's set-up included)
            # is left out of garbage collection, so full passes walk only what the drain makes
            freeze_startup_objects()
            if profile:
                profiler = await Profiler.start(engine)
            worker_started, cpu_started = datetime.now(UTC), process_cpu()
            task = asyncio.create_task(worker.run(stop))
            deadline = time.monotonic() + max(120.0, total / 20)
            result.complete = await wait_for_states(db, total, deadline, engine)
            cpu = process_cpu() - cpu_started
            cpu_profile = await profiler.stop() if profiler is not None else None
            profiler = None
            result.connections_opened = connections
            stop_sampling.set()
            if sampler is not None:
                await sampler
            async with db.read() as session:
                last = await session.scalar(select(func.max(Delivery.finished_at)))
            elapsed = ((last or datetime.now(UTC)) - worker_started).total_seconds()
            result.seconds = elapsed
            result.drained_per_s = total / elapsed if result.complete else 0.0
            result.ratio = result.drained_per_s / result.ceiling_per_s
            result.cpu_ms_per_delivery = 1000 * cpu / total
            result.cpu_share = cpu / elapsed
            say(
                f"{engine}: drained {total} in {elapsed:.2f}s = {result.drained_per_s:,.0f} deliveries/s "
                f"(ratio {result.ratio:.2f}); {result.cpu_ms_per_delivery:.2f} ms CPU per delivery"
            )
            if cpu_profile is not None:
                result.profile = cpu_profile.figures(result.cpu_ms_per_delivery, "delivery", total)
            if timing is not None:
                result.breakdown = {
                    "calls": timing.calls,
                    "seconds": {k: round(v, 3) for k, v in timing.seconds.items()},
                    "claimed": timing.claimed,
                }
                result.pg_waits = waits or None

            stats = await receiver.stats()
            result.duplicates = stats["duplicates"]
            backlog_arrivals = await receiver.arrivals()
            to_arrival, to_finish = latencies(await delivery_times(db, "backlog"), backlog_arrivals)
            result.backlog_arrival_p50_ms = percentile(to_arrival, 50)
            result.backlog_arrival_p99_ms = percentile(to_arrival, 99)
            result.backlog_finished_p50_ms = percentile(to_finish, 50)
            result.backlog_finished_p99_ms = percentile(to_finish, 99)

            if result.complete and steady_seconds > 0:
                await steady(db, receiver, repository, result, steady_seconds, engine)

            stop.set()
            await task
        await senders.close()
    finally:
        if profiler is not None:
            await profiler.stop()
        await db.dispose()
    return result


async def steady(
    db: Database,
    receiver: ReceiverHandle,
    repository: Repository,
    result: DrainResult,
    seconds: float,
    engine: str,
) -> None:
    """Events one per transaction at a rate the worker keeps up with; latency of their deliveries."""
    kind = get_event_kind("repo_push")
    payload = kind.sample_payload(REPO)
    rate = min(200.0, 0.3 * result.drained_per_s)  # deliveries/s
    events = max(1, int(seconds * rate / NOTIFICATIONS))
    interval = NOTIFICATIONS / rate
    before = await count_states(db)
    say(f"{engine}: steady load, {rate:.0f} deliveries/s for {seconds:g}s ({events} events)")
    await receiver.reset()
    started = time.monotonic()
    for i in range(events):
        await asyncio.sleep(max(0.0, started + i * interval - time.monotonic()))
        async with db.write() as session:
            repo = await session.get(Repository, repository.id)
            assert repo is not None
            await record_event(session, repo, kind, payload, source="steady")
    target = before.get("succeeded", 0) + events * NOTIFICATIONS
    await wait_for_states(db, target, time.monotonic() + 60, f"{engine} steady")
    to_arrival, to_finish = latencies(await delivery_times(db, "steady"), await receiver.arrivals())
    result.steady_deliveries = len(to_arrival)
    result.steady_rate = rate
    result.steady_arrival_p50_ms = percentile(to_arrival, 50)
    result.steady_arrival_p99_ms = percentile(to_arrival, 99)
    result.steady_finished_p50_ms = percentile(to_finish, 50)
    result.steady_finished_p99_ms = percentile(to_finish, 99)


# -- c. peak RSS of a worker process ---------------------------------------------------------------


@dataclass
class RssResult:
    idle_hwm_bytes: int = 0
    peak_hwm_bytes: int = 0
    rss_samples_mib: list[float] = field(default_factory=list)
    pending: int = 0
    delivered: int = 0
    seconds: float = 0.0
    rate: float = 0.0
    insert_seconds: float = 0.0


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in bytes, empty when the process is gone."""
    values: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) * 1024
    except (FileNotFoundError, ProcessLookupError, ValueError):
        return {}
    return values


async def run_worker_process(
    env: dict[str, str],
    log_path: Path,
    receiver: ReceiverHandle,
    *,
    seconds: float,
    until_count: int | None,
    samples: list[float],
) -> tuple[int, int, float]:
    """Run ``regnotify worker``; (peak VmHWM bytes, receiver count, seconds) when stopped."""
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "regnotify.cli", "worker", env=env, stdout=log, stderr=log
        )
    peak = 0
    started = time.monotonic()
    last_report = started
    count = 0
    try:
        while time.monotonic() - started < seconds and process.returncode is None:
            status = proc_status(process.pid)
            peak = max(peak, status.get("VmHWM", 0))
            if "VmRSS" in status:
                samples.append(round(status["VmRSS"] / 2**20, 1))
            count = (await receiver.stats())["count"]
            if until_count is not None and count >= until_count:
                break
            if time.monotonic() - last_report >= 10:
                say(f"rss: {count} delivered, VmRSS {status.get('VmRSS', 0) / 2**20:.0f} MiB")
                last_report = time.monotonic()
            await asyncio.sleep(0.25)
        elapsed = time.monotonic() - started
        if process.returncode is not None:
            tail = log_tail(log_path)
            raise RuntimeError(f"the worker exited early with {process.returncode}:\n{tail}")
        process.send_signal(signal.SIGTERM)
        while process.returncode is None:  # the drain after SIGTERM counts towards the peak too
            peak = max(peak, proc_status(process.pid).get("VmHWM", 0))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(process.wait(), 0.05)
            if process.returncode is None and time.monotonic() - started > seconds + 60:
                process.kill()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    count = (await receiver.stats())["count"]
    return peak, count, elapsed


async def bulk_pending(db: Database, repository_id: int, notification_ids: list[int], total: int) -> None:
    """``total`` pending deliveries over ``total / len(notification_ids)`` events, Core executemany."""
    payload = get_event_kind("repo_push").sample_payload(REPO)
    per_event = len(notification_ids)
    events = total // per_event
    now = datetime.now(UTC)
    chunk = 5000
    async with db.engine.begin() as conn:
        for first in range(0, events, chunk):
            ids = range(first + 1, min(events, first + chunk) + 1)
            await conn.execute(
                insert(Event.__table__),
                [
                    {
                        "id": i,
                        "uuid": str(uuid.uuid4()),
                        "repository_id": repository_id,
                        "kind": "repo_push",
                        "payload": payload,
                        "source": "rss",
                        "is_test": False,
                        "received_at": now,
                    }
                    for i in ids
                ],
            )
            await conn.execute(
                insert(Delivery.__table__),
                [
                    {
                        "uuid": str(uuid.uuid4()),
                        "event_id": i,
                        "notification_id": notification_id,
                        "state": "pending",
                        "is_test": False,
                        "attempts": 0,
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for i in ids
                    for notification_id in notification_ids
                ],
            )


async def measure_rss(receiver: ReceiverHandle, workdir: Path, seconds: float) -> RssResult:
    result = RssResult()
    base = workdir / "rss"
    base.mkdir()
    database_path = base / "regnotify.db"
    secret_key = Fernet.generate_key().decode()
    env = worker_env(f"sqlite:///{database_path}", base / "data", secret_key)
    log_path = base / "worker.log"

    db = Database(f"sqlite+aiosqlite:///{database_path}")
    try:
        await migrate(db.engine)
        repository = await make_scene(db, SecretBox(secret_key), receiver.hook_url, NOTIFICATIONS)
        async with db.read() as session:
            notification_ids = list(await session.scalars(select(Notification.id).order_by(Notification.id)))
    finally:
        await db.dispose()

    say("rss: idle worker on an empty queue for 5s")
    await receiver.reset(record=False)
    result.idle_hwm_bytes, _, _ = await run_worker_process(
        env, log_path, receiver, seconds=5, until_count=None, samples=[]
    )
    say(f"rss: idle VmHWM {result.idle_hwm_bytes / 2**20:.1f} MiB")

    say(f"rss: bulk-inserting {RSS_DELIVERIES:,} pending deliveries")
    started = time.perf_counter()
    db = Database(f"sqlite+aiosqlite:///{database_path}")
    try:
        await bulk_pending(db, repository.id, notification_ids, RSS_DELIVERIES)
        result.pending = (await count_states(db)).get("pending", 0)
    finally:
        await db.dispose()
    result.insert_seconds = time.perf_counter() - started
    say(
        f"rss: {result.pending:,} pending after {result.insert_seconds:.1f}s; draining for up to {seconds:g}s"
    )

    await receiver.reset(record=False)
    result.peak_hwm_bytes, result.delivered, result.seconds = await run_worker_process(
        env, log_path, receiver, seconds=seconds, until_count=result.pending, samples=result.rss_samples_mib
    )
    result.rate = result.delivered / result.seconds if result.seconds else 0.0
    say(
        f"rss: peak VmHWM {result.peak_hwm_bytes / 2**20:.1f} MiB; {result.delivered:,} delivered in "
        f"{result.seconds:.1f}s ({result.rate:,.0f}/s including start-up)"
    )
    return result


def print_profile(d: DrainResult) -> None:
    """The drain's CPU per delivery by bucket, with the profiled ceiling run's per request beside it."""
    worker, client = d.profile, d.ceiling_profile
    assert worker is not None
    print(
        f"     CPU profile (py-spy)    worker: {worker['samples']:,} samples over the drain "
        f"({worker['errors']} failed), {worker['cpu_ms_per_unit']:.3f} ms CPU per delivery"
    )
    if client is not None:
        print(
            f"                             bare client: {client['samples']:,} samples over one ceiling run "
            f"at {client['requests_per_s']:,.0f}/s, {client['cpu_ms_per_unit']:.3f} ms CPU per request"
        )
    print(f"       {'bucket':<32} {'worker':>7} {'us/delivery':>12}   {'client':>7} {'us/request':>11}")
    for bucket in PROFILE_BUCKET_NAMES:
        ours = worker["buckets"][bucket]
        theirs = client["buckets"][bucket] if client is not None else None
        if not ours["samples"] and not (theirs and theirs["samples"]):
            continue
        line = f"       {bucket:<32} {ours['share']:>7.1%} {ours['us_per_unit']:>12.1f}"
        if theirs is not None:
            line += f"   {theirs['share']:>7.1%} {theirs['us_per_unit']:>11.1f}"
        print(line)
    total = f"       {'total':<32} {1:>7.0%} {1000 * worker['cpu_ms_per_unit']:>12.1f}"
    if client is not None:
        total += f"   {1:>7.0%} {1000 * client['cpu_ms_per_unit']:>11.1f}"
    print(total)
    print("       garbage collection (within the rows above, on the lines whose allocation triggered it):")
    collections = [("worker", "delivery", worker), ("bare client", "request", client)]
    print(
        "         "
        + "; ".join(
            f"{who} {p['gc']['us_per_unit']:.1f} us/{unit} "
            f"(passes of gen 0/1/2: {'/'.join(str(n) for n in p['gc']['passes_by_generation'])})"
            for who, unit, p in collections
            if p is not None
        )
    )


def profile_notes(drains: list[DrainResult]) -> list[str]:
    """What the sampling cost (py-spy's own CPU during the profiled drains) and how to read it."""
    spent = [d.profile["py_spy_cpu_seconds"] / d.seconds for d in drains if d.profile and d.seconds]
    cost = f" (py-spy itself used up to {max(spent):.0%} of a core)" if spent else ""
    return [
        f"profiled run (--profile): the drains' figures carry py-spy's sampling overhead{cost}: "
        "deliveries/s, ratios and CPU per delivery read worse than unprofiled. The ceilings are "
        "unprofiled (the profiled ceiling run is an extra one). Take headline figures from a run "
        "without --profile.",
        f"profile tables: share of py-spy's samples ({PROFILE_RATE} Hz, every thread of this "
        "process) per bucket of harness.PROFILE_BUCKETS, times the CPU per delivery (request) "
        "measured over the same span. py-spy counts a thread that is runnable but waiting for a "
        "core as a sample, so on a busy machine there are more samples than CPU milliseconds.",
    ]


def report(
    machine: dict[str, str],
    ceiling: float,
    ceiling_cpu: float,
    drains: list[DrainResult],
    rss: RssResult | None,
    skipped: list[str],
    *,
    profiled: bool = False,
) -> None:
    print_pairs("machine", machine)
    print_section("figures")
    if profiled:
        print_notes([textwrap.fill(note, 104, subsequent_indent="     ") for note in profile_notes(drains)])
    print(
        f"  ceiling (bare aiohttp, {CONCURRENCY} in flight): {ceiling:,.0f} requests/s, "
        f"{ceiling_cpu:.2f} ms client CPU per request"
    )
    for d in drains:
        target = TARGET_RATIO[d.engine]
        print(f"  -- {d.engine} ({d.deliveries} deliveries) --")
        print(f"     recorded at             {d.ingest_per_s:,.0f} deliveries/s (50 events/transaction)")
        print(
            f"     ceiling next to it      {d.ceiling_per_s:,.0f} requests/s, "
            f"{d.ceiling_cpu_ms:.2f} ms client CPU per request"
        )
        print(f"     drained at              {d.drained_per_s:,.0f} deliveries/s in {d.seconds:.2f}s")
        print(
            f"     worker CPU              {d.cpu_ms_per_delivery:.2f} ms per delivery "
            f"({d.cpu_share:.0%} of one core over the drain); {d.connections_opened} DB connections opened"
        )
        print(
            f"     ratio to ceiling        {d.ratio:.2f}   target >= {target}  {verdict(d.ratio >= target)}"
        )
        print(
            f"     backlog latency         p50 {d.backlog_arrival_p50_ms:,.0f} ms  "
            f"p99 {d.backlog_arrival_p99_ms:,.0f} ms (stored -> receiver); "
            f"p50 {d.backlog_finished_p50_ms:,.0f} / p99 {d.backlog_finished_p99_ms:,.0f} ms to finished_at"
        )
        if d.steady_deliveries:
            print(
                f"     steady latency          p50 {d.steady_arrival_p50_ms:,.1f} ms  "
                f"p99 {d.steady_arrival_p99_ms:,.1f} ms (stored -> receiver) at {d.steady_rate:.0f}/s; "
                f"p50 {d.steady_finished_p50_ms:,.1f} / p99 {d.steady_finished_p99_ms:,.1f} ms to finished_at"
            )
        print(f"     duplicates at receiver  {d.duplicates}")
        if d.breakdown:
            calls, secs, claimed = d.breakdown["calls"], d.breakdown["seconds"], d.breakdown["claimed"]
            claims = calls.get("claim", 0)
            print(
                f"     breakdown (wall)        claim: {claims} calls, "
                f"{claimed / max(claims, 1):.1f} rows/call, "
                f"{1000 * secs.get('claim', 0) / max(claims, 1):.1f} ms/call; "
                f"finish: {calls.get('finish', 0)} batches, "
                f"{1000 * secs.get('finish', 0) / max(calls.get('finish', 1), 1):.1f} ms/batch; "
                f"send: {1000 * secs.get('send', 0) / max(calls.get('send', 1), 1):.1f} ms/call"
            )
        if d.pg_waits:
            top = sorted(d.pg_waits.items(), key=lambda kv: -kv[1])[:6]
            print("     pg active-session waits " + ", ".join(f"{k} {v}" for k, v in top))
        if d.profile:
            print_profile(d)
        if not d.complete:
            print("     (INCOMPLETE: not every delivery succeeded before the deadline)")
    print_notes(skipped)
    if rss is not None:
        ok = rss.peak_hwm_bytes < TARGET_RSS_BYTES
        print(f"  -- worker RSS ({rss.pending:,} pending, SQLite, `python -m regnotify.cli worker`) --")
        print(f"     idle VmHWM              {rss.idle_hwm_bytes / 2**20:.1f} MiB")
        print(
            f"     peak VmHWM              {rss.peak_hwm_bytes / 2**20:.1f} MiB "
            f"({rss.peak_hwm_bytes / 1e6:.0f} MB)   target < 200 MB  {verdict(ok)}"
        )
        print(
            f"     delivered               {rss.delivered:,} in {rss.seconds:.1f}s "
            f"({rss.rate:,.0f}/s including start-up)"
        )
        if rss.rss_samples_mib:
            samples = rss.rss_samples_mib
            picks = [samples[int(i * (len(samples) - 1) / 5)] for i in range(6)]
            print("     VmRSS over the run      " + " -> ".join(f"{v:.0f}" for v in picks) + " MiB")
    print_section("targets")
    for d in drains:
        target = TARGET_RATIO[d.engine]
        print(f"  ratio {d.engine:<10} {d.ratio:5.2f} >= {target:<4}  {verdict(d.ratio >= target)}")
    if rss is not None:
        print(
            f"  peak RSS         {rss.peak_hwm_bytes / 1e6:5.0f} MB < 200  "
            f"{verdict(rss.peak_hwm_bytes < TARGET_RSS_BYTES)}"
        )


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    body = sample_body()
    machine = machine_info(
        "load average",
        [("aiohttp", "sqlalchemy"), ("psycopg", "aiosqlite")],
        {"payload": f"repo_push sample, {len(body)} bytes", "event loop": loop_description(args.loop)},
    )
    say(f"machine: {machine['cpus']} x {machine['cpu model']}, Python {machine['python']}, {args.loop}")
    receiver = start_receiver()
    say(f"receiver process {receiver.process.pid} on {receiver.hook_url}")
    drains: list[DrainResult] = []
    skipped: list[str] = []
    rss: RssResult | None = None
    workdir = Path(tempfile.mkdtemp(prefix="regnotify-bench-"))

    async def drain_on(engine: str, url: str) -> None:
        drains.append(
            await drain(
                engine,
                url,
                receiver,
                body,
                args.deliveries,
                workdir,
                steady_seconds=args.steady_seconds,
                breakdown=args.breakdown,
                profile=args.profile,
            )
        )

    try:
        say(f"a. ceiling: {args.deliveries} POSTs, {CONCURRENCY} in flight")
        ceiling, ceiling_cpu = await measure_ceiling(receiver, body, args.deliveries)
        say(f"a. ceiling: {ceiling:,.0f} requests/s ({ceiling_cpu:.2f} ms client CPU each)")

        say("b. drain on SQLite")
        await drain_on("sqlite", f"sqlite:///{workdir / 'drain.db'}")

        if args.postgres_url:
            async with postgres_schema(args.postgres_url, machine, skipped, step="b. ") as schema:
                if schema is not None:
                    say(f"b. drain on PostgreSQL {schema.version}, schema {schema.schema}")
                    await drain_on("postgresql", schema.url)
        else:
            skipped.append("postgresql: no --postgres-url given")

        if args.skip_rss:
            skipped.append("rss: skipped (--skip-rss)")
        else:
            say(f"c. worker RSS with {RSS_DELIVERIES:,} pending deliveries")
            rss = await measure_rss(receiver, workdir, args.rss_seconds)
    finally:
        stop_server(receiver.process)
        clean_up(workdir)

    if args.profile and not any(d.profile for d in drains):
        skipped.append("profile: py-spy could not profile the drains (see the progress lines)")
    profiled = any(d.profile or d.ceiling_profile for d in drains)
    report(machine, ceiling, ceiling_cpu, drains, rss, skipped, profiled=profiled)
    return {
        "machine": machine,
        "loop": args.loop,
        "profiled": args.profile,
        "deliveries": args.deliveries,
        "ceiling_per_s": ceiling,
        "ceiling_cpu_ms": ceiling_cpu,
        "drains": [asdict(d) for d in drains],
        "rss": asdict(rss) if rss else None,
        "skipped": skipped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--deliveries", type=int, default=5000, help="N for the ceiling and each drain")
    parser.add_argument("--postgres-url", default=None, help="postgresql://user@host:port/db to bench on")
    parser.add_argument("--skip-rss", action="store_true", help="skip the 100k-pending RSS measurement")
    parser.add_argument("--rss-seconds", type=float, default=60.0, help="bound on the RSS drain")
    parser.add_argument("--steady-seconds", type=float, default=5.0, help="steady-load phase; 0 skips it")
    parser.add_argument("--breakdown", action="store_true", help="time claim/finish/send (adds overhead)")
    parser.add_argument(
        "--profile", action="store_true", help="CPU per delivery by bucket, sampled with py-spy (overhead)"
    )
    add_loop_argument(parser)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    if args.deliveries < NOTIFICATIONS:
        parser.error(f"--deliveries must be at least {NOTIFICATIONS}")
    if args.loop == "uvloop" and default_loop() != "uvloop":
        parser.error("--loop uvloop: uvloop is not installed")
    run_and_save(amain, args)


if __name__ == "__main__":
    main()
