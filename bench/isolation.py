"""Isolation: a healthy receiver's latency beside hung and failing destinations; /healthz beside hostile input

Run from the repository root::

    .venv/bin/python bench/isolation.py [--quick] [--pushes 60] [--rate 5] [--idle-pushes 100] [--wait 30]
        [--tail 3] [--builds 4] [--regex-length 25] [--split] [--scenarios idle,hung-5,...]
        [--env REGNOTIFY_X=Y ...]
        [--postgres-url postgresql://postgres@127.0.0.1:5432/test] [--keep-logs] [--json PATH]

Every part is a real process. The service is ``regnotify serve`` (the API and its delivery worker in one
process, the embedded default) with the service's own defaults (worker concurrency, per-host concurrency,
poll interval, timeouts, retry schedule, failure threshold), except: ``OUTBOUND_ALLOWED_NETWORKS`` is
``["127.0.0.0/8"]`` (the destinations are on loopback), and the database, data directory and secret key
are the benchmark's. ``--env REGNOTIFY_X=Y`` changes a setting for every run (say so when you quote the
figures). ``--split`` also runs every scenario with ``serve --no-worker``'s API (``bench/ingest.py``'s
API process) and one separate ``regnotify worker``.

**Destinations** run in one separate process (uvloop), each a real socket server on its own loopback
address (Linux routes all of 127/8 to ``lo``), so each is its own destination host for the service:

- *healthy*: aiohttp, answers 204 at once and records when each push arrived (the tag in the payload's
  ``updated_tags``), and duplicates;
- *hung*: an asyncio server that accepts, reads the request and never answers, keeping the connection
  open until the scenario ends (then the benchmark closes those connections, so the service can stop);
- *500*: aiohttp, answers ``500`` at once;
- *sink*: aiohttp, answers 204 (the build notifications of the hostile scenario).

Every scenario uses addresses no other scenario of the engine uses (127.0.1.1 upwards), so nothing
the service might remember about a destination carries over.

**Data**: one database per engine (a temp SQLite data directory; a PostgreSQL schema of its own,
migrated with ``regnotify migrate`` and dropped at the end), set up through the CLI (``user create
admin --superuser``, ``org create acme``, a user token, a source token, and one repository per
scenario: ``acme/<mode>-<scenario>``; the commands run in turn in one interpreter, to pay Python's
start-up once). Each scenario starts its own ``serve`` process, creates its
notifications through the API (one webhook notification per destination), and at its end deletes
them through the API (which deletes their deliveries) before the process stops. The next scenario
checks that no delivery is pending in the whole database before it starts (printed as "pending at
start"; if some were, they are cancelled and the report says so). Fresh repositories, destinations
and processes with an empty queue make a scenario start as clean as a fresh database, without paying
a migration and a CLI set-up (5-10 s on a busy 2-core machine) per scenario.

**Load**: pushes go to the registry receiver as ``bench/ingest.py`` sends them (one Distribution
envelope per push, a new tag each, the source token), open loop at ``--rate`` (5/s): push i is posted
at start + i / rate whether or not earlier ones were answered. Latency of a push = arrival at the
healthy receiver - the moment the bench started its POST (same machine, same clock): what the
registry's user sees. Pushes not delivered when the scenario ends count as infinitely late in the
percentiles (printed "not arrived"). A scenario ends when every push has arrived (and, in the hostile
one, every build was answered and each of its template deliveries was tried once), but not before
``--tail`` (3 s) after the last push; or ``--wait`` (30 s) after the last push.

**/healthz** is probed open loop every 20 ms from the first push to the end of each scenario (a
probe is sent on schedule even when earlier ones are unanswered, so a stalled event loop shows up in
every probe it delays; probes still unanswered at the end count with their time so far), over up to
16 kept-alive connections (a probe due while all 16 wait queues in the client, and its wait counts;
against a server whose loop blocks 3 s every 4 s, this prober, one of 4 connections, one without a
limit and one opening a connection per probe all measured a max of 3.0 s and the same p50/p99). Its
percentiles cover the probes sent from the first push to ``--tail`` (3 s) after the last (every
scenario lasts at least that long), so they do not depend on how long a scenario waited for its
deliveries. Runs of consecutive probes slower than 100 ms are listed as stalls (when, from the first
push, and how long the slowest probe of the run waited), with the hostile builds' send times beside
them.

Scenarios, in order:

1. **idle**: the healthy notification only; ``--idle-pushes`` (100) pushes, 200 ms apart.
2. **hung-5** / 3. **hung-50**: the healthy notification and 5 / 50 notifications each to its own hung
   destination; ``--pushes`` (60) at ``--rate`` (5/s). Each push is one delivery per destination.
4. **http500-5**: the same with 5 destinations answering 500 (retries, then disabling, as configured).
5. **hostile**: the healthy notification, plus two ``build_queued`` webhooks to the sink: one with
   ``ref-regex`` ``^(a+)+$`` (catastrophic backtracking for a backtracking engine), one with a template
   of 1,000 ``"${*.*.*.zz}"`` expressions. If create refuses the pattern, that is reported (and is
   safe). If it refuses the template, that is reported and a legal but heavy template
   (``{"deep": "${*.*.*}"}``: the whole payload, three levels down) is used instead, so the worker still
   renders the big builds (if that is refused too, the build webhook has no template). During the
   same push load, ``--builds`` (4) builds are queued through ``POST .../builds`` (source token),
   spread over the push window, each with ``trigger_metadata.ref`` = ``--regex-length`` (25) ``a``\\ s
   and ``!`` and about 720 KB of extra trigger metadata (8 lists of 8,200 short strings), so each
   build event is matched against the pattern by the API and rendered against the template by the
   worker. Reported: build answer times, the build deliveries' outcomes (and an error, if any).
   A full run first times, in this process, what the hostile inputs cost without limits: Python's
   backtracking ``re`` on the ref, the template's paths evaluated with no work budget, and the
   service's template engine as ``src/`` has it now.

Targets (issue 12), with PASS/MISS per engine (and mode): healthy p99 < 1 s with 5 and with 50 hung
destinations (every push delivered); idle p99 < 50 ms; ``/healthz`` p99 < 100 ms in the hostile scenario
and in every other one. The 500s scenario is reported without a target. ``--quick`` is a smoke run:
fewer pushes, a short wait, one build, a shorter ref; its figures are not comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import math
import multiprocessing
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.fernet import Fernet
from sqlalchemy import func, select, update

sys.path.insert(0, str(Path(__file__).parent))

from harness import (
    Handler,
    Posted,
    Stack,
    clean_up,
    client_session,
    control_call,
    envelope,
    load_average,
    machine_info,
    percentile,
    post_open_loop,
    postgres_schema,
    print_notes,
    print_pairs,
    print_section,
    regnotify_env,
    run_and_save,
    run_loop,
    run_python,
    say,
    serve_forever,
    spawn_server,
    start_site,
    stop_server,
    verdict,
    wait_workers_started,
)

from regnotify.config import async_driver_url
from regnotify.db import Database
from regnotify.db.models import Delivery, Notification

IDLE_RATE = 5.0  # the idle scenario's pushes are 200 ms apart
PROBE_EVERY = 0.02  # seconds between /healthz probes
PROBE_CONNECTIONS = 16  # kept alive; a probe due while all 16 wait queues in the client (its wait counts)
HOSTILE_PATTERN = "^(a+)+$"
HOSTILE_EXPRESSIONS = 1000
HOSTILE_TEMPLATE = json.dumps(["${*.*.*.zz}"] * HOSTILE_EXPRESSIONS)
FALLBACK_TEMPLATE = json.dumps({"deep": "${*.*.*}"})
EXTRA_LISTS = 8  # the build payload's extra trigger metadata: EXTRA_LISTS lists of EXTRA_ITEMS strings
EXTRA_ITEMS = 8200
TARGET_HUNG_P99_MS = 1000.0
TARGET_IDLE_P99_MS = 50.0
TARGET_HEALTHZ_P99_MS = 100.0
SERVE_SETTLE_SECONDS = 1.0  # after the notifications exist, before the first push
DELETE_IN_FLIGHT = 8
MAX_STALLS_SHOWN = 6
MODES = {"serve": "regnotify serve (API and worker in one process)", "split": "API + 1 `regnotify worker`"}


# -- the destinations: a separate process ---------------------------------------------------------


@dataclass
class DestinationState:
    kind: str  # healthy, hung, error (answers 500) or sink
    requests: int = 0
    connections: int = 0  # hung: connections accepted
    duplicates: int = 0
    bytes: int = 0
    arrivals: dict[str, float] = field(default_factory=dict)  # healthy: tag -> first arrival (unix time)
    open: set[asyncio.StreamWriter] = field(default_factory=set)  # hung: connections held open


def destinations_main(conn: Connection, plan: list[tuple[str, str]]) -> None:
    """Process entry point: one server per (kind, address) of ``plan``; sends back their ports."""
    run_loop(_destinations(conn, plan))


async def _hang(state: DestinationState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Accept, read whatever comes, never answer; ends when the peer (or ``/_release``) closes."""
    state.connections += 1
    state.open.add(writer)
    try:
        data = await reader.read(65536)
        state.requests += bool(data)
        while data:
            state.bytes += len(data)
            data = await reader.read(65536)
    except OSError:
        pass
    finally:
        state.open.discard(writer)
        writer.close()


def _answering(state: DestinationState) -> web.Application:
    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        now = time.time()
        state.requests += 1
        state.bytes += len(body)
        if state.kind == "error":
            return web.Response(status=500, text="failing on purpose (bench/isolation.py)")
        if state.kind == "healthy":
            try:
                tags = list((json.loads(body).get("updated_tags") or {}).keys())
            except (ValueError, AttributeError):
                tags = []
            for tag in tags:
                if tag in state.arrivals:
                    state.duplicates += 1
                else:
                    state.arrivals[tag] = now
        return web.Response(status=204)

    app = web.Application(client_max_size=16 * 2**20)
    app.router.add_post("/hook", hook)
    return app


async def _destinations(conn: Connection, plan: list[tuple[str, str]]) -> None:
    states = {address: DestinationState(kind) for kind, address in plan}
    ports: dict[str, int] = {}
    keep: list[Any] = []
    for kind, address in plan:
        if kind == "hung":
            server = await asyncio.start_server(
                functools.partial(_hang, states[address]), address, 0, backlog=1024
            )
            keep.append(server)
            ports[address] = server.sockets[0].getsockname()[1]
        else:
            runner, ports[address] = await start_site(_answering(states[address]), address)
            keep.append(runner)

    async def arrivals(request: web.Request) -> web.Response:
        return web.json_response(states[request.query["address"]].arrivals)

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(
            {
                address: {
                    "kind": s.kind,
                    "requests": s.requests,
                    "connections": s.connections,
                    "open": len(s.open),
                    "duplicates": s.duplicates,
                    "bytes": s.bytes,
                }
                for address, s in states.items()
            }
        )

    def release_all() -> int:
        closed = 0
        for s in states.values():
            for writer in list(s.open):
                writer.close()
                closed += 1
        return closed

    async def release(_request: web.Request) -> web.Response:
        return web.json_response({"closed": release_all()})

    async def reset(_request: web.Request) -> web.Response:
        closed = release_all()
        for s in states.values():
            s.requests = s.connections = s.duplicates = s.bytes = 0
            s.arrivals = {}
        return web.json_response({"closed": closed})

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/_arrivals", arrivals),
        ("GET", "/_stats", stats),
        ("POST", "/_release", release),
        ("POST", "/_reset", reset),
    ]
    await serve_forever(conn, routes, lambda port: {"ports": ports, "control": port})


@dataclass
class Destinations:
    process: multiprocessing.process.BaseProcess
    ports: dict[str, int]
    control: int

    def url(self, address: str) -> str:
        return f"http://{address}:{self.ports[address]}/hook"

    async def _call(self, method: str, path: str) -> Any:
        return await control_call(method, f"http://127.0.0.1:{self.control}{path}")

    async def arrivals(self, address: str) -> dict[str, float]:
        return dict(await self._call("GET", f"/_arrivals?address={address}"))

    async def stats(self) -> dict[str, dict[str, Any]]:
        return dict(await self._call("GET", "/_stats"))

    async def release(self) -> int:
        return int((await self._call("POST", "/_release"))["closed"])

    async def reset(self) -> None:
        await self._call("POST", "/_reset")


def start_destinations(plan: list[tuple[str, str]]) -> Destinations:
    process, answer = spawn_server(destinations_main, (plan,), "destinations", 60)
    return Destinations(process, answer["ports"], answer["control"])


# -- scenarios and their addresses ------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    name: str
    title: str
    bad_kind: str = ""  # "hung" or "error"
    bad_count: int = 0
    hostile: bool = False
    idle: bool = False


SCENARIOS = [
    Scenario("idle", "idle (healthy only)", idle=True),
    Scenario("hung-5", "5 hung", "hung", 5),
    Scenario("hung-50", "50 hung", "hung", 50),
    Scenario("http500-5", "5 answering 500", "error", 5),
    Scenario("hostile", "hostile pattern+template", hostile=True),
]


@dataclass
class Addresses:
    healthy: str
    bad: list[str]
    sink: str | None


class AddressBook:
    """Hands out 127.0.1.1, 127.0.1.2, ... (never .0 or .255), one per destination of a run."""

    def __init__(self) -> None:
        self.next = 256 + 1
        self.plan: list[tuple[str, str]] = []

    def take(self, kind: str) -> str:
        while self.next % 256 in (0, 255):
            self.next += 1
        address = f"127.0.{self.next // 256}.{self.next % 256}"
        self.next += 1
        self.plan.append((kind, address))
        return address

    def scenario(self, scenario: Scenario) -> Addresses:
        healthy = self.take("healthy")
        bad = [self.take(scenario.bad_kind) for _ in range(scenario.bad_count)]
        sink = self.take("sink") if scenario.hostile else None
        return Addresses(healthy, bad, sink)


# -- the service's API, as a repository admin -------------------------------------------------------


class Api:
    def __init__(self, base: str, token: str) -> None:
        self.base = f"{base}/api/v1"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120))

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, json=body, headers=self.headers) as r:
            text = await r.text()
            try:
                return r.status, json.loads(text) if text else None
            except ValueError:
                return r.status, text

    async def create_notification(self, repository: str, body: dict[str, Any]) -> tuple[str | None, str]:
        """(uuid, "") when created, (None, the API's message) when refused."""
        status, answer = await self.call("POST", f"/repository/{repository}/notification/", body)
        if status == 201:
            return str(answer["uuid"]), ""
        if isinstance(answer, dict):
            message = answer.get("detail") or answer.get("error_message") or json.dumps(answer)
        else:
            message = str(answer)
        return None, f"{status}: {str(message)[:200]}"


def webhook(event: str, url: str, title: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"url": url}
    if "template" in extra:
        config["template"] = extra.pop("template")
    return {"event": event, "method": "webhook", "config": config, "eventConfig": extra, "title": title}


# -- load: pushes, builds, probes -------------------------------------------------------------------


async def post_pushes(
    session: aiohttp.ClientSession,
    api_url: str,
    token: str,
    repository: str,
    tags: list[str],
    rate: float,
    posted: dict[str, Posted],
) -> list[asyncio.Task[None]]:
    """Post one envelope per tag, push i at start + i / rate (open loop); returns the answers' tasks."""
    bodies = [envelope([tag], repository) for tag in tags]  # built up front: not on the clock
    records: list[Posted] = []
    tasks = await post_open_loop(session, api_url, token, bodies, rate, records)
    posted.update(zip(tags, records, strict=True))
    return tasks


def build_body(number: int, ref: str) -> bytes:
    extras = {f"x{k}": [f"v{k}-{i:05d}" for i in range(EXTRA_ITEMS)] for k in range(EXTRA_LISTS)}
    metadata = {"ref": ref, "commit": "0" * 40, "default_branch": "main", **extras}
    body = {
        "docker_tags": [f"build-{number}"],
        "build_name": f"hostile-{number}",
        "trigger_kind": "custom-git",
        "trigger_metadata": metadata,
    }
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass
class BuildPost:
    sent: float
    answered: float = 0.0
    status: int = 0
    error: str = ""


async def post_builds(
    api_url: str, token: str, repository: str, bodies: list[bytes], window: float, into: list[BuildPost]
) -> None:
    """Queue the builds, build k at start + (k + 0.5) * window / n, not waiting for earlier answers."""
    url = f"{api_url}/api/v1/repository/{repository}/builds"
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=300)) as session:

        async def one(body: bytes, record: BuildPost) -> None:
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    answer = await response.read()
                    record.status = response.status
                    if response.status != 201:
                        record.error = answer[:200].decode(errors="replace")
            except (aiohttp.ClientError, TimeoutError) as exc:
                record.error = f"{type(exc).__name__}: {exc}"
            record.answered = time.time()

        started = time.monotonic()
        tasks = []
        for k, body in enumerate(bodies):
            delay = started + (k + 0.5) * window / len(bodies) - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            record = BuildPost(sent=time.time())
            into.append(record)
            tasks.append(asyncio.create_task(one(body, record)))
        await asyncio.gather(*tasks)


@dataclass
class Probe:
    sent: float
    answered: float = 0.0
    ok: bool = False
    error: str = ""


async def probe_healthz(api_url: str, stop: asyncio.Event, probes: list[Probe]) -> None:
    """GET /healthz every PROBE_EVERY seconds, open loop, until ``stop``; unanswered ones are cancelled."""
    connector = aiohttp.TCPConnector(limit=PROBE_CONNECTIONS, limit_per_host=PROBE_CONNECTIONS)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=600)
    ) as session:

        async def one(record: Probe) -> None:
            try:
                async with session.get(f"{api_url}/healthz") as response:
                    await response.read()
                    record.ok = response.status == 200
                    record.error = "" if record.ok else f"HTTP {response.status}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                record.error = f"{type(exc).__name__}: {exc}"[:120]
            record.answered = time.monotonic()

        tasks = []
        started = time.monotonic()
        i = 0
        while not stop.is_set():
            delay = started + i * PROBE_EVERY - time.monotonic()
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
                continue
            record = Probe(sent=time.monotonic())
            probes.append(record)
            tasks.append(asyncio.create_task(one(record)))
            i += 1
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


# -- one scenario -------------------------------------------------------------------------------------


@dataclass
class Result:
    engine: str
    mode: str
    scenario: str
    title: str
    pushes: int = 0
    rate: float = 0.0
    pending_at_start: int = 0
    cancelled_at_start: int = 0
    arrived: int = 0
    duplicates: int = 0
    latency_p50_ms: float = math.nan
    latency_p99_ms: float = math.nan
    latency_max_ms: float = math.nan
    push_errors: int = 0
    push_first_error: str = ""
    push_answer_p50_ms: float = math.nan
    push_answer_p99_ms: float = math.nan
    push_answer_max_ms: float = math.nan
    probes: int = 0
    probe_failures: int = 0  # errors, non-200 answers and probes unanswered at the end
    probe_errors: dict[str, int] = field(default_factory=dict)  # by kind, whole scenario
    probe_first_error: str = ""
    healthz_p50_ms: float = math.nan
    healthz_p99_ms: float = math.nan
    healthz_max_ms: float = math.nan
    waited_after_last_push_s: float = 0.0
    bad_destinations: int = 0
    bad_requests: int = 0  # requests the bad destinations received (hung: connections that sent one)
    bad_open_at_end: int = 0  # hung connections the service still held when the scenario ended
    bad_disabled: int = 0  # their notifications disabled by the service at the end
    pattern: str = ""
    template: str = ""
    builds: int = 0
    build_statuses: dict[str, int] = field(default_factory=dict)
    build_answer_ms: list[float] = field(default_factory=list)
    build_payload_bytes: int = 0
    build_deliveries: dict[str, int] = field(default_factory=dict)
    build_error: str = ""
    sink_requests: int = 0
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (s after the first push, worst ms)
    build_sent_s: list[float] = field(default_factory=list)  # s after the first push
    late_pushes: list[tuple[int, float, float]] = field(default_factory=list)  # (push, s after the first, ms)
    healthz_timeline: list[tuple[float, float]] = field(default_factory=list)  # (s after the first push, ms)
    stop_seconds: float = 0.0
    error: str = ""


@dataclass
class Engine:
    name: str  # sqlite or postgresql
    env: dict[str, str]
    db: Database
    user_token: str
    source_token: str
    logs: Path


async def pending_count(db: Database) -> int:
    async with db.read() as session:
        return int(await session.scalar(select(func.count()).where(Delivery.state == "pending")) or 0)


async def cancel_pending(db: Database) -> int:
    async with db.write() as session:
        result = await session.execute(
            update(Delivery).where(Delivery.state == "pending").values(state="cancelled")
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def delivery_states(db: Database, notification_uuid: str) -> tuple[dict[str, int], int, str]:
    """Deliveries of one notification by state, how many were tried at least once (or finished), and
    the last error of one that has one."""
    async with db.read() as session:
        rows = await session.execute(
            select(Delivery.state, func.count())
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Notification.uuid == notification_uuid)
            .group_by(Delivery.state)
        )
        states = {state: int(n) for state, n in rows.all()}
        attempted = await session.scalar(
            select(func.count())
            .select_from(Delivery)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(
                Notification.uuid == notification_uuid,
                (Delivery.attempts > 0) | (Delivery.state != "pending"),
            )
        )
        error = await session.scalar(
            select(Delivery.last_error)
            .join(Notification, Notification.id == Delivery.notification_id)
            .where(Notification.uuid == notification_uuid, Delivery.last_error.is_not(None))
            .limit(1)
        )
    return states, int(attempted or 0), str(error or "")


def stalls(
    waits: list[tuple[float, float]], threshold: float = TARGET_HEALTHZ_P99_MS
) -> list[tuple[float, float]]:
    """Runs of consecutive probes slower than ``threshold`` ms: (first one's send time, worst ms)."""
    found: list[tuple[float, float]] = []
    inside = False
    for sent, wait in waits:
        if wait > threshold:
            if inside:
                found[-1] = (found[-1][0], max(found[-1][1], wait))
            else:
                found.append((round(sent, 2), wait))
            inside = True
        else:
            inside = False
    return found


def service_log_tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a service log, without the probes' access-log lines."""
    if not path.exists():
        return "(no log)"
    kept = [line for line in path.read_text(errors="replace").splitlines() if "GET /healthz" not in line]
    return "\n".join(kept[-lines:])


def late_percentiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p99, max of ``values`` (inf = never arrived)."""
    return percentile(values, 50), percentile(values, 99), max(values, default=math.nan)


async def run_scenario(
    engine: Engine,
    mode: str,
    scenario: Scenario,
    where: Addresses,
    destinations: Destinations,
    args: argparse.Namespace,
) -> Result:
    count = args.idle_pushes if scenario.idle else args.pushes
    rate = IDLE_RATE if scenario.idle else args.rate
    result = Result(engine.name, mode, scenario.name, scenario.title, pushes=count, rate=rate)
    label = f"{engine.name}/{mode}/{scenario.name}"
    repository = f"acme/{mode}-{scenario.name}"
    logs = engine.logs / f"{mode}-{scenario.name}"
    logs.mkdir()
    stack = Stack(engine.env, logs, serve_with_worker=mode == "serve")
    api: Api | None = None
    uuids: list[str] = []
    stop_probing = asyncio.Event()
    prober: asyncio.Task[None] | None = None
    background: list[asyncio.Task[None]] = []  # the builds and the pushes' answers
    pushing = client_session(512, timeout=300)
    try:
        result.pending_at_start = await pending_count(engine.db)
        if result.pending_at_start:
            result.cancelled_at_start = await cancel_pending(engine.db)
            say(f"{label}: {result.pending_at_start} deliveries pending at start: cancelled them")
        await destinations.reset()
        await stack.start_api()
        if mode == "split":
            await stack.start_workers(1)
            await wait_workers_started(stack, 1)
        api = Api(stack.api_url, engine.user_token)

        healthy, refused = await api.create_notification(
            repository, webhook("repo_push", destinations.url(where.healthy), "healthy receiver")
        )
        if healthy is None:
            raise RuntimeError(f"the healthy notification was refused: {refused}")
        uuids.append(healthy)
        for n, address in enumerate(where.bad):
            created, refused = await api.create_notification(
                repository, webhook("repo_push", destinations.url(address), f"{scenario.bad_kind} {n}")
            )
            if created is None:
                raise RuntimeError(f"notification {n} to {address} was refused: {refused}")
            uuids.append(created)
        result.bad_destinations = len(where.bad)

        template_uuid: str | None = None
        build_bodies: list[bytes] = []
        if scenario.hostile:
            assert where.sink is not None
            sink = destinations.url(where.sink)
            created, refused = await api.create_notification(
                repository,
                webhook("build_queued", sink, "hostile pattern", **{"ref-regex": HOSTILE_PATTERN}),
            )
            result.pattern = "accepted at create" if created else f"refused at create ({refused})"
            uuids += [created] if created else []
            created, refused = await api.create_notification(
                repository, webhook("build_queued", sink, "hostile template", template=HOSTILE_TEMPLATE)
            )
            if created:
                result.template = "accepted at create; the builds are rendered with it"
            else:
                result.template = f"refused at create ({refused})"
                created, fallback_refused = await api.create_notification(
                    repository,
                    webhook("build_queued", sink, "heavy template", template=FALLBACK_TEMPLATE),
                )
                result.template += (
                    f"; the builds use {FALLBACK_TEMPLATE} instead"
                    if created
                    else f"; {FALLBACK_TEMPLATE} refused too ({fallback_refused}): no template"
                )
                if created is None:
                    created, refused = await api.create_notification(
                        repository, webhook("build_queued", sink, "plain build webhook")
                    )
            template_uuid = created
            uuids += [created] if created else []
            ref = "a" * args.regex_length + "!"
            build_bodies = [build_body(k, ref) for k in range(args.builds)]
            result.builds = len(build_bodies)
            result.build_payload_bytes = len(build_bodies[0]) if build_bodies else 0
            say(f"{label}: pattern {result.pattern}; template {result.template}")

        await asyncio.sleep(SERVE_SETTLE_SECONDS)
        await stack.check()
        tags = [f"{engine.name}-{mode}-{scenario.name}-{i}" for i in range(count)]
        bad = f", {len(where.bad)} {scenario.bad_kind} destinations" if where.bad else ""
        extra = f", {len(build_bodies)} hostile builds" if build_bodies else ""
        say(f"{label}: {count} pushes at {rate:g}/s{bad}{extra}")

        load_started, load_started_wall = time.monotonic(), time.time()
        probes: list[Probe] = []
        prober = asyncio.create_task(probe_healthz(stack.api_url, stop_probing, probes))
        posted: dict[str, Posted] = {}
        builds: list[BuildPost] = []
        builder = (
            asyncio.create_task(
                post_builds(
                    stack.api_url, engine.source_token, repository, build_bodies, count / rate, builds
                )
            )
            if build_bodies
            else None
        )
        background += [builder] if builder is not None else []
        push_tasks = await post_pushes(
            pushing, stack.api_url, engine.source_token, repository, tags, rate, posted
        )
        background += push_tasks
        last_push = time.monotonic()
        deadline = last_push + args.wait
        last_report = last_push
        arrivals: dict[str, float] = {}
        while True:
            await stack.check()
            arrivals = await destinations.arrivals(where.healthy)
            done = all(tag in arrivals for tag in tags)
            if done and builder is not None:
                done = builder.done()
            if done and template_uuid is not None:
                # tried once is enough: a template over the work budget may be retried for hours
                _states, attempted, _error = await delivery_states(engine.db, template_uuid)
                done = attempted >= sum(b.status == 201 for b in builds)
            if (done and time.monotonic() >= last_push + args.tail) or time.monotonic() >= deadline:
                break
            if time.monotonic() - last_report >= 5:
                say(f"{label}: {sum(tag in arrivals for tag in tags)}/{count} arrived")
                last_report = time.monotonic()
            await asyncio.sleep(0.2)
        result.waited_after_last_push_s = time.monotonic() - last_push
        stop_probing.set()
        await prober
        ended = time.monotonic()

        # the healthy receiver
        late = [(arrivals[tag] - posted[tag].sent) * 1000 if tag in arrivals else math.inf for tag in tags]
        result.arrived = sum(tag in arrivals for tag in tags)
        result.late_pushes = [
            (i, round(posted[tag].sent - load_started_wall, 2), ms)
            for i, (tag, ms) in enumerate(zip(tags, late, strict=True))
            if ms > TARGET_HUNG_P99_MS
        ]
        result.latency_p50_ms, result.latency_p99_ms, result.latency_max_ms = late_percentiles(late)
        answered = [p for p in posted.values() if p.answered]
        failed = [p for p in posted.values() if p.status != 200 or p.accepted != 1]
        result.push_errors = len(failed)
        if failed:
            first = failed[0]
            result.push_first_error = f"{first.status or 'unanswered'} {first.error}"[:160]
        answer_ms = [(p.answered - p.sent) * 1000 for p in answered]
        answer_ms += [math.inf] * (len(posted) - len(answered))
        result.push_answer_p50_ms, result.push_answer_p99_ms, result.push_answer_max_ms = late_percentiles(
            answer_ms
        )

        # /healthz: percentiles over a window of the same length whatever the wait (the first push to
        # --tail seconds after the last), stalls over the whole scenario
        waits = [((p.answered or ended) - p.sent) * 1000 for p in probes]
        window = [w for p, w in zip(probes, waits, strict=True) if p.sent <= last_push + args.tail]
        result.probes = len(window)
        result.probe_failures = sum(not p.ok for p in probes[: len(window)])
        errors: dict[str, int] = {}
        for p in probes:
            if p.error:
                key = p.error.split(":", 1)[0]
                errors[key] = errors.get(key, 0) + 1
        result.probe_errors = errors
        if probes and any(p.error for p in probes):
            result.probe_first_error = next(p.error for p in probes if p.error)
        result.healthz_p50_ms, result.healthz_p99_ms, result.healthz_max_ms = late_percentiles(window)
        result.healthz_timeline = [
            (round(p.sent - load_started, 3), round(w, 1)) for p, w in zip(probes, waits, strict=True)
        ]
        result.stalls = stalls(result.healthz_timeline)

        # the other destinations
        stats = await destinations.stats()
        result.duplicates = int(stats[where.healthy]["duplicates"])
        result.bad_requests = sum(int(stats[a]["requests"]) for a in where.bad)
        result.bad_open_at_end = sum(int(stats[a]["open"]) for a in where.bad)
        status, listing = await api.call("GET", f"/repository/{repository}/notification/")
        if status == 200:
            bad_uuids = set(uuids[1 : 1 + len(where.bad)])
            result.bad_disabled = sum(
                1 for n in listing["notifications"] if n["uuid"] in bad_uuids and not n.get("enabled", True)
            )
        if builder is not None:
            for b in builds:
                key = str(b.status) if b.answered else "unanswered"
                result.build_statuses[key] = result.build_statuses.get(key, 0) + 1
            result.build_sent_s = [round(b.sent - load_started_wall, 2) for b in builds]
            result.build_answer_ms = [
                round((b.answered - b.sent) * 1000, 1) if b.answered else math.inf for b in builds
            ]
            if where.sink is not None:
                result.sink_requests = int(stats[where.sink]["requests"])
        if template_uuid is not None:
            result.build_deliveries, _attempted, result.build_error = await delivery_states(
                engine.db, template_uuid
            )
        say(
            f"{label}: {result.arrived}/{count} arrived, p50 {fmt_ms(result.latency_p50_ms)}, "
            f"p99 {fmt_ms(result.latency_p99_ms)}, max {fmt_ms(result.latency_max_ms)}; "
            f"/healthz p99 {fmt_ms(result.healthz_p99_ms)} ({result.probes} probes)"
        )
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        say(f"{label}: FAILED: {result.error}")
        for name in [
            "serve" if mode == "serve" else "api",
            *(f"worker-{n}" for n in range(len(stack.workers))),
        ]:
            print(f"---- last lines of {logs / name}.log (/healthz access lines left out) ----", flush=True)
            print(service_log_tail(logs / f"{name}.log"), flush=True)
    finally:
        stop_probing.set()
        for task in background:  # the builds and pushes still unanswered are given up on
            task.cancel()
        await asyncio.gather(*background, *([prober] if prober else []), return_exceptions=True)
        await pushing.close()
        stopping = time.monotonic()
        if api is not None:
            slots = asyncio.Semaphore(DELETE_IN_FLIGHT)

            async def delete(uuid: str) -> None:
                async with slots:
                    with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                        await api.call("DELETE", f"/repository/{repository}/notification/{uuid}")

            if stack.api is not None and stack.api.returncode is None:
                await asyncio.gather(*(delete(u) for u in uuids))
            await api.close()
        with contextlib.suppress(aiohttp.ClientError):
            await destinations.release()
        await stack.stop()
        result.stop_seconds = time.monotonic() - stopping
    return result


# -- set-up per engine --------------------------------------------------------------------------------


def service_env(
    data_dir: Path, secret_key: str, database_url: str | None, extra: dict[str, str]
) -> dict[str, str]:
    """The service's defaults, plus what the benchmark needs (and ``--env``)."""
    env = regnotify_env(
        data_dir=data_dir,
        secret_key=secret_key,
        outbound_allowed_networks=["127.0.0.0/8"],
        public_base_url="https://regnotify.test",
        registry_host="registry.test",
        **({"database_url": database_url} if database_url else {}),
    )
    env.update(extra)
    return env


# The CLI's commands, run one after another in one interpreter: the same code as `regnotify ...`, without
# paying the interpreter's and the imports' start-up (about 2 s on a busy 2-core machine) per command.
CLI_BATCH = """
import json, sys
from regnotify.cli import app
for argv in json.loads(sys.argv[1]):
    print("$ regnotify " + " ".join(argv), flush=True)
    app(args=argv, standalone_mode=False, prog_name="regnotify")
"""


async def run_cli_batch(env: dict[str, str], logs: Path, commands: list[list[str]]) -> dict[str, str]:
    """Run ``commands``; the stdout of each, by its command line."""
    out = await run_python(env, logs, "-c", CLI_BATCH, json.dumps(commands), what="the CLI")
    outputs: dict[str, str] = {}
    current = ""
    for line in out.splitlines():
        if line.startswith("$ regnotify "):
            current = line[len("$ regnotify ") :]
            outputs[current] = ""
        else:
            outputs[current] = outputs.get(current, "") + line + "\n"
    return outputs


def token_of(output: str) -> str:
    for line in output.splitlines():
        if line.strip().startswith("rnt_"):
            return line.strip()
    raise RuntimeError(f"no token in the CLI's output: {output!r}")


async def prepare_engine(
    name: str, env: dict[str, str], db_url: str, logs: Path, repositories: list[str]
) -> Engine:
    """Through the CLI: (migrate,) a superuser, organization acme, a user token, a source token, repos."""
    started = time.monotonic()
    user = ["token", "create", "--user", "admin", "--name", "bench-isolation"]
    source = ["source", "create", "bench-registry", "--namespace", "acme"]
    commands = [
        *([["migrate"]] if name == "postgresql" else []),
        ["user", "create", "admin", "--superuser", "--no-password"],
        ["org", "create", "acme", "--admin", "admin"],
        user,
        source,
        *(["repo", "create", repository] for repository in repositories),
    ]
    outputs = await run_cli_batch(env, logs, commands)
    say(f"{name}: CLI set-up took {time.monotonic() - started:.1f}s ({len(repositories)} repositories)")
    return Engine(
        name,
        env,
        Database(async_driver_url(db_url)),
        token_of(outputs[" ".join(user)]),
        token_of(outputs[" ".join(source)]),
        logs,
    )


async def run_engine(
    name: str,
    env: dict[str, str],
    db_url: str,
    logs: Path,
    modes: list[str],
    scenarios: list[Scenario],
    addresses: dict[tuple[str, str], Addresses],
    destinations: Destinations,
    args: argparse.Namespace,
) -> list[Result]:
    repositories = [f"acme/{mode}-{s.name}" for mode in modes for s in scenarios]
    engine = await prepare_engine(name, env, db_url, logs, repositories)
    results = []
    try:
        for mode in modes:
            for scenario in scenarios:
                results.append(
                    await run_scenario(
                        engine, mode, scenario, addresses[(mode, scenario.name)], destinations, args
                    )
                )
    finally:
        await engine.db.dispose()
    return results


# -- calibration: what the hostile inputs cost without limits -----------------------------------------


def unbounded_find(path: list[str], data: Any) -> int:
    """Values visited by a ``*``/key path, evaluated as a template engine without a work budget would."""
    current, visited = [data], 0
    for segment in path:
        found: list[Any] = []
        for value in current:
            visited += 1
            if segment == "*":
                if isinstance(value, dict):
                    found.extend(value.values())
                elif isinstance(value, list):
                    found.extend(value)
            elif isinstance(value, dict) and segment in value:
                found.append(value[segment])
        current = found
    return visited


def calibrate(regex_length: int) -> dict[str, str]:
    """What the hostile inputs cost, in this process: Python's backtracking ``re`` on the hostile ref,
    the hostile template evaluated without a budget, and the service's template engine as it is now."""
    found: dict[str, str] = {}
    ref = "a" * regex_length + "!"
    started = time.perf_counter()
    re.match(HOSTILE_PATTERN, ref)
    found["python re, hostile pattern on the ref"] = f"{time.perf_counter() - started:.2f} s per match"
    payload = {
        "repository": "acme/x",
        "build_id": "b",
        "docker_tags": ["build-0"],
        "trigger_metadata": json.loads(build_body(0, ref))["trigger_metadata"],
    }
    started = time.perf_counter()
    steps = sum(unbounded_find(["*", "*", "*", "zz"], payload) for _ in range(HOSTILE_EXPRESSIONS))
    found["hostile template, no budget"] = (
        f"{steps:,} values visited in {time.perf_counter() - started:.2f} s per build"
    )
    try:
        from regnotify.methods.template import TemplateError, render_template

        started = time.perf_counter()
        try:
            render_template(HOSTILE_TEMPLATE, payload)
            outcome = "rendered"
        except TemplateError as exc:
            outcome = f"refused ({str(exc)[:160]})"
        outcome += f" in {time.perf_counter() - started:.2f} s"
    except Exception as exc:  # the engine is being reworked: its entry point may move
        outcome = f"not measured ({type(exc).__name__}: {exc})"
    found["hostile template, src/ engine now"] = outcome
    return found


# -- the report ---------------------------------------------------------------------------------------


def fmt_ms(value: float) -> str:
    if math.isnan(value):
        return "-"
    if math.isinf(value):
        return "not arrived"
    if value >= 10_000:
        return f"{value / 1000:.1f} s"
    if value >= 1000:
        return f"{value / 1000:.2f} s"
    return f"{value:.1f} ms" if value < 10 else f"{value:.0f} ms"


def verdicts(results: list[Result]) -> list[tuple[str, str, str, str]]:
    """(engine/mode, target, value, PASS/MISS) for each target the results cover."""
    out = []
    by_key: dict[tuple[str, str], dict[str, Result]] = {}
    for r in results:
        by_key.setdefault((r.engine, r.mode), {})[r.scenario] = r
    for (engine, mode), found in by_key.items():
        who = f"{engine} {mode}"

        def usable(r: Result | None) -> bool:
            return r is not None and not r.error

        idle = found.get("idle")
        if idle is not None:
            ok = usable(idle) and idle.latency_p99_ms < TARGET_IDLE_P99_MS
            out.append(
                (
                    who,
                    "idle p99 < 50 ms",
                    fmt_ms(idle.latency_p99_ms) if usable(idle) else "failed",
                    verdict(ok),
                )
            )
        for name, words in (("hung-5", "5 hung"), ("hung-50", "50 hung")):
            r = found.get(name)
            if r is not None:
                ok = usable(r) and r.latency_p99_ms < TARGET_HUNG_P99_MS and r.arrived == r.pushes
                value = f"{fmt_ms(r.latency_p99_ms)} ({r.arrived}/{r.pushes})" if usable(r) else "failed"
                out.append((who, f"healthy p99 < 1 s, {words}", value, verdict(ok)))
        hostile = found.get("hostile")
        if hostile is not None:
            ok = usable(hostile) and hostile.healthz_p99_ms < TARGET_HEALTHZ_P99_MS
            value = fmt_ms(hostile.healthz_p99_ms) if usable(hostile) else "failed"
            out.append((who, "/healthz p99 < 100 ms, hostile", value, verdict(ok)))
        ran = [r for r in found.values() if usable(r)]
        if ran:
            worst = max(ran, key=lambda r: r.healthz_p99_ms)
            ok = len(ran) == len(found) and worst.healthz_p99_ms < TARGET_HEALTHZ_P99_MS
            value = f"worst {fmt_ms(worst.healthz_p99_ms)} ({worst.scenario})"
            if len(ran) < len(found):
                value += f", {len(found) - len(ran)} failed"
            out.append((who, "/healthz p99 < 100 ms, every scenario", value, verdict(ok)))
    return out


def print_results(results: list[Result]) -> None:
    groups: dict[tuple[str, str], list[Result]] = {}
    for r in results:
        groups.setdefault((r.engine, r.mode), []).append(r)
    for (engine, mode), rows in groups.items():
        print(f"  -- {engine}: {MODES[mode]} --")
        print(
            f"     {'scenario':<26} {'arrived':>9}  {'healthy p50 / p99 / max':<36} {'push answer p99':>15}  "
            f"{'/healthz p50 / p99 / max (probes)':<40}"
        )
        for r in rows:
            if r.error:
                print(f"     {r.title:<26} FAILED: {r.error[:150]}")
                continue
            healthy = f"{fmt_ms(r.latency_p50_ms)} / {fmt_ms(r.latency_p99_ms)} / {fmt_ms(r.latency_max_ms)}"
            healthz = (
                f"{fmt_ms(r.healthz_p50_ms)} / {fmt_ms(r.healthz_p99_ms)} / {fmt_ms(r.healthz_max_ms)} "
                f"({r.probes:,})"
            )
            print(
                f"     {r.title:<26} {f'{r.arrived}/{r.pushes}':>9}  {healthy:<36} "
                f"{fmt_ms(r.push_answer_p99_ms):>15}  {healthz:<40}"
            )
        for r in rows:
            if r.error:
                continue
            notes = [
                f"{r.pushes} pushes at {r.rate:g}/s, waited {r.waited_after_last_push_s:.1f}s after the last"
            ]
            if r.pending_at_start:
                notes.append(f"{r.pending_at_start} deliveries pending at start (cancelled)")
            if r.duplicates:
                notes.append(f"{r.duplicates} duplicates at the healthy receiver")
            if r.push_errors:
                notes.append(f"{r.push_errors} pushes not stored (first: {r.push_first_error})")
            if r.late_pushes:
                shown = ", ".join(
                    f"#{i} (+{at:.1f}s) {fmt_ms(ms)}" for i, at, ms in r.late_pushes[:MAX_STALLS_SHOWN]
                )
                more = f" (the first {MAX_STALLS_SHOWN})" if len(r.late_pushes) > MAX_STALLS_SHOWN else ""
                notes.append(f"pushes over 1 s late: {len(r.late_pushes)}{more}: {shown}")
            if r.stalls:
                worst = sorted(r.stalls, key=lambda st: -st[1])[:MAX_STALLS_SHOWN]
                shown = ", ".join(f"+{at:.1f}s {fmt_ms(ms)}" for at, ms in sorted(worst))
                more = f" (the {len(worst)} worst)" if len(r.stalls) > len(worst) else ""
                notes.append(f"/healthz stalls over 100 ms: {len(r.stalls)}{more}: {shown}")
            if r.probe_failures:
                kinds = ", ".join(f"{k} {v}" for k, v in sorted(r.probe_errors.items()))
                notes.append(
                    f"{r.probe_failures} /healthz probes failed or unanswered ({kinds}; "
                    f"first: {r.probe_first_error})"
                )
            if r.bad_destinations:
                what = (
                    "connections taken (never answered)" if "hung" in r.scenario else "requests answered 500"
                )
                notes.append(
                    f"bad destinations: {r.bad_requests:,} {what}, {r.bad_open_at_end} open at the end, "
                    f"{r.bad_disabled} of {r.bad_destinations} notifications disabled"
                )
            if r.scenario == "hostile":
                notes.append(f"pattern {HOSTILE_PATTERN}: {r.pattern}")
                notes.append(f"template of {HOSTILE_EXPRESSIONS:,} ${{*.*.*.zz}}: {r.template}")
                statuses = ", ".join(f"{k}: {v}" for k, v in sorted(r.build_statuses.items()))
                notes.append(
                    f"builds: {r.builds} of {r.build_payload_bytes / 1000:,.0f} KB ({statuses}); answered in "
                    + ", ".join(fmt_ms(v) for v in r.build_answer_ms)
                )
                states = ", ".join(f"{k} {v}" for k, v in sorted(r.build_deliveries.items())) or "none"
                notes.append("builds sent at " + ", ".join(f"+{at:.1f}s" for at in r.build_sent_s))
                notes.append(f"build deliveries: {states}; the sink got {r.sink_requests}")
                if r.build_error:
                    notes.append(f"a build delivery's error: {r.build_error[:300]}")
            notes.append(f"stopping the service took {r.stop_seconds:.1f}s")
            print(f"     {r.scenario}:")
            for note in notes:
                print(f"       - {note}")


def report(
    machine: dict[str, str], calibration: dict[str, str], results: list[Result], skipped: list[str]
) -> None:
    print_pairs("machine", machine, 24)
    if calibration:
        print_pairs("what the hostile inputs cost without limits (this process)", calibration, 46)
    print_section("figures")
    print_results(results)
    print_notes(skipped)
    print_section("targets")
    for who, target, value, ok in verdicts(results):
        print(f"  {who:<18} {target:<38} {value:<28} {ok}")
    informative = [r for r in results if r.scenario == "http500-5" and not r.error]
    for r in informative:
        print(
            f"  {f'{r.engine} {r.mode}':<18} {'healthy p99, 5 answering 500':<38} "
            f"{f'{fmt_ms(r.latency_p99_ms)} ({r.arrived}/{r.pushes})':<28} (informative)"
        )


# -- main ---------------------------------------------------------------------------------------------


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    extra_env = dict(item.split("=", 1) for item in args.env)
    changed = ", ".join(f"{k}={v}" for k, v in extra_env.items()) or "none (service defaults)"
    machine = machine_info(
        "load average (start)",
        [("uvicorn", "fastapi"), ("aiohttp", "sqlalchemy")],
        {"settings changed": changed, "run": "--quick (smoke: not comparable)" if args.quick else "full"},
    )
    say(f"machine: {machine['cpus']} x {machine['cpu model']}, load {machine['load average (start)']}")
    calibration: dict[str, str] = {}
    if not args.quick and any(s.hostile for s in args.scenario_list):
        say("timing the hostile inputs in this process (Python re, the template engine)")
        calibration = calibrate(args.regex_length)
        for key, value in calibration.items():
            say(f"  {key}: {value}")

    modes = ["serve", "split"] if args.split else ["serve"]
    book = AddressBook()
    addresses = {(mode, s.name): book.scenario(s) for mode in modes for s in args.scenario_list}
    destinations = start_destinations(book.plan)
    say(f"destinations process {destinations.process.pid}: {len(book.plan)} servers on 127.0.1.1 and up")
    workdir = Path(tempfile.mkdtemp(prefix="regnotify-isolation-"))
    results: list[Result] = []
    skipped: list[str] = []

    async def on_engine(name: str, database_url: str | None) -> None:
        """Every scenario and mode on one engine; a failure is noted in ``skipped``."""
        try:
            base = workdir / ("sqlite" if database_url is None else "pg")
            logs = base / "logs"
            logs.mkdir(parents=True)
            env = service_env(base / "data", Fernet.generate_key().decode(), database_url, extra_env)
            db_url = database_url or f"sqlite:///{base / 'data' / 'regnotify.db'}"
            results.extend(
                await run_engine(
                    name, env, db_url, logs, modes, args.scenario_list, addresses, destinations, args
                )
            )
        except Exception as exc:
            skipped.append(f"{name}: FAILED ({type(exc).__name__}: {str(exc)[:300]})")
            say(f"{name}: FAILED: {type(exc).__name__}: {exc}")

    try:
        say("sqlite: the embedded default (REGNOTIFY_DATABASE_URL unset)")
        await on_engine("sqlite", None)
        if args.postgres_url:
            async with postgres_schema(args.postgres_url, machine, skipped, sync_commit=False) as schema:
                if schema is not None:
                    say(f"postgresql {schema.version}: schema {schema.schema}")
                    await on_engine("postgresql", schema.url)
        else:
            skipped.append("postgresql: skipped (no --postgres-url given)")
    finally:
        stop_server(destinations.process)
        clean_up(workdir, keep=args.keep_logs)

    machine["load average (end)"] = load_average()
    report(machine, calibration, results, skipped)
    return {
        "machine": machine,
        "calibration": calibration,
        "arguments": {k: v for k, v in vars(args).items() if k != "scenario_list"},
        "results": [asdict(r) for r in results],
        "verdicts": verdicts(results),
        "skipped": skipped,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="smoke run, under a minute per engine")
    parser.add_argument("--pushes", type=int, default=None, help="pushes per scenario (60; --quick 15)")
    parser.add_argument("--rate", type=float, default=5.0, help="pushes per second (not idle's: 5/s)")
    parser.add_argument("--idle-pushes", type=int, default=None, help="pushes of the idle scenario (100; 15)")
    parser.add_argument(
        "--wait", type=float, default=None, help="seconds after the last push (30; --quick 5)"
    )
    parser.add_argument(
        "--tail", type=float, default=None, help="least seconds a scenario lasts after its last push (3; 1)"
    )
    parser.add_argument("--builds", type=int, default=None, help="hostile builds (4; --quick 1)")
    parser.add_argument(
        "--regex-length", type=int, default=None, help="a's in the hostile ref (25; --quick 22)"
    )
    parser.add_argument("--scenarios", default=",".join(s.name for s in SCENARIOS), help="comma-separated")
    parser.add_argument("--split", action="store_true", help="also run each scenario with a separate worker")
    parser.add_argument(
        "--env", action="append", default=[], metavar="REGNOTIFY_X=Y", help="a setting for the service"
    )
    parser.add_argument("--postgres-url", default=None, help="postgresql://user@host:port/db; unset skips it")
    parser.add_argument("--keep-logs", action="store_true", help="keep the processes' logs (path printed)")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args()
    quick = args.quick
    for name, full, smoke in (
        ("pushes", 60, 15),
        ("idle_pushes", 100, 15),
        ("wait", 30.0, 5.0),
        ("tail", 3.0, 1.0),
        ("builds", 4, 1),
        ("regex_length", 25, 22),
    ):
        if getattr(args, name) is None:
            setattr(args, name, smoke if quick else full)
    known = {s.name: s for s in SCENARIOS}
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    if unknown := [n for n in names if n not in known]:
        parser.error(f"unknown scenarios {unknown}; known: {', '.join(known)}")
    args.scenario_list = [known[n] for n in names]
    if any("=" not in item or not item.startswith("REGNOTIFY_") for item in args.env):
        parser.error("--env takes REGNOTIFY_NAME=VALUE")
    if (
        args.pushes < 1
        or args.idle_pushes < 1
        or args.rate <= 0
        or min(args.wait, args.tail, args.builds) < 0
    ):
        parser.error("--pushes, --idle-pushes and --rate must be positive; --wait, --tail, --builds >= 0")
    run_and_save(amain, args)


if __name__ == "__main__":
    main()
