"""What the benchmark scripts of ``bench/`` share: one copy, imported by each of them.

- **Progress and report**: ``say`` (timestamped progress lines), ``percentile``, the process's CPU
  time, the machine description and its printing, PASS/MISS verdicts, the JSON dump of the figures.
- **Event loops**: ``run_loop`` runs a coroutine on uvloop or the default asyncio loop;
  ``run_and_save`` runs a benchmark on the loop of its ``--loop`` option (asyncio without one).
- **CPU profile**: ``Profiler`` runs py-spy on this process for a while and sorts its samples into
  the buckets of ``PROFILE_BUCKETS`` (``delivery.py --profile``).
- **Servers**: ``start_site`` (an aiohttp app on a loopback port), ``spawn_server`` (a server in a
  process of its own, uvloop when installed), and the webhook receiver of ``delivery.py``,
  ``delivery_split.py`` and ``ingest.py``: answers 204 on ``/hook``, counts requests and records the
  arrival time of each ``webhook-id``.
- **The ceiling**: a bare aiohttp client POSTing to that receiver, CONCURRENCY in flight.
- **Settings and the scene**: the benchmark's ``Settings`` and ``REGNOTIFY_*`` environments, the
  ``acme/app`` repository with its signed webhooks, a backlog of recorded events.
- **PostgreSQL**: a schema of its own on a server, dropped at the end.
- **regnotify processes**: free ports, the CLI, an API process (``serve`` or ``serve`` without its
  worker) with ``regnotify worker`` processes beside it, waiting for them and stopping them.
- **Registry load**: Distribution notification envelopes posted to the registry receiver.

The scripts import it as ``harness`` (their own directory is on ``sys.path``), so it works for
``python bench/X.py`` and ``python -m bench.X`` alike.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import importlib.util
import json
import multiprocessing
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from sqlalchemy import text

from regnotify import accounts
from regnotify.config import Settings, async_driver_url
from regnotify.db import Database
from regnotify.db.models import Notification, Repository
from regnotify.events import RepositoryRef, get_event_kind
from regnotify.ingest import record_event
from regnotify.methods import get_method
from regnotify.runtime.crypto import SecretBox

CONCURRENCY = 64  # worker concurrency, per-host concurrency and the ceiling's requests in flight
CEILING_RUNS = 3  # the ceiling is the median of this many runs: the machine is shared and noisy
NOTIFICATIONS = 10
EVENTS_PER_TRANSACTION = 50
WEBHOOK_SECRET = "whsec_" + "QmVuY2htYXJrIHNpZ25pbmcgc2VjcmV0IQ=="  # 26 bytes after base64
REPO = RepositoryRef("acme", "app", "registry.test", "https://regnotify.test")
WORKER_START_SECONDS = 60.0

# The settings every benchmark worker runs with (as ``Settings`` fields and as REGNOTIFY_* variables).
BENCH_SETTINGS: dict[str, Any] = {
    "public_base_url": "https://regnotify.test",
    "registry_host": "registry.test",
    "outbound_allowed_networks": ["127.0.0.1/32"],
    "worker_concurrency": CONCURRENCY,
    "per_host_concurrency": CONCURRENCY,
    "poll_interval": 0.05,
}

STARTED = time.monotonic()

T = TypeVar("T")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


# -- progress lines and the report -----------------------------------------------------------------


def say(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:7.1f}s] {message}", flush=True)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile of ``values`` (q in 0..100); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def process_cpu() -> float:
    """CPU seconds (user + system) of this process, all threads (aiosqlite runs SQLite in threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "-"


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def machine_info(
    load_key: str, packages: Iterable[tuple[str, str]], extra: dict[str, str] | None = None
) -> dict[str, str]:
    """The machine, Python, SQLite and the versions of ``packages`` (pairs, shown as "a / b")."""
    machine = {
        "cpus": str(os.cpu_count()),
        "cpu model": cpu_model(),
        load_key: load_average(),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "sqlite": sqlite3.sqlite_version,
        "postgresql": "not measured",
    }
    for a, b in packages:
        machine[f"{a} / {b}"] = f"{package_version(a)} / {package_version(b)}"
    machine.update(extra or {})
    return machine


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def print_section(title: str) -> None:
    print()
    print(f"== {title} ==")


def print_pairs(title: str, pairs: dict[str, str], width: int = 22) -> None:
    """A section of ``key value`` lines, the keys padded to ``width``."""
    print_section(title)
    for key, value in pairs.items():
        print(f"  {key:<{width}} {value}")


def print_notes(notes: list[str]) -> None:
    for note in notes:
        print(f"  -- {note}")


def run_and_save(
    amain: Callable[[argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]], args: argparse.Namespace
) -> None:
    """Run the benchmark on the loop of ``args.loop`` (the default asyncio loop for scripts without a
    ``--loop`` option); with ``--json PATH``, also write its figures there."""
    figures = run_loop(amain(args), getattr(args, "loop", "asyncio"))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")


async def poll_until(
    done: Callable[[], Awaitable[bool | None]], deadline: float, progress: Callable[[], str]
) -> bool:
    """Await ``done()`` every 0.1 s: True once it returns True, False when it returns None (given up)
    or at ``deadline`` (a ``time.monotonic()``); says ``progress()`` every 5 s meanwhile."""
    last_report = time.monotonic()
    while time.monotonic() < deadline:
        finished = await done()
        if finished is not False:
            return bool(finished)
        if time.monotonic() - last_report >= 5:
            say(progress())
            last_report = time.monotonic()
        await asyncio.sleep(0.1)
    return False


def clean_up(workdir: Path, *, keep: bool = False, shown: Path | None = None) -> None:
    """Remove the run's temporary directory, or with ``keep`` say where its logs are."""
    if keep:
        say(f"logs kept in {shown or workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


# -- servers: the receiver and its kind ------------------------------------------------------------


LOOPS = ("uvloop", "asyncio")  # the choices of a ``--loop`` option


def default_loop() -> str:
    """``uvloop`` when it is installed (``regnotify worker`` runs on it), else ``asyncio``."""
    return "uvloop" if importlib.util.find_spec("uvloop") is not None else "asyncio"


def loop_description(loop: str) -> str:
    """The loop as the machine section shows it: ``uvloop 0.23.0`` or ``asyncio (default loop)``."""
    return f"uvloop {package_version('uvloop')}" if loop == "uvloop" else "asyncio (default loop)"


def add_loop_argument(parser: argparse.ArgumentParser) -> None:
    """``--loop {uvloop,asyncio}``: the loop the whole benchmark runs on (see ``run_and_save``)."""
    parser.add_argument(
        "--loop",
        choices=LOOPS,
        default=default_loop(),
        help="event loop of this process, ceiling and worker alike (default: uvloop when installed)",
    )


def run_loop(main: Coroutine[Any, Any, T], loop: str | None = None) -> T:
    """Run ``main`` on ``loop`` ("uvloop" or "asyncio"; by default uvloop when it is installed)."""
    if (loop or default_loop()) == "asyncio":
        return asyncio.run(main)
    import uvloop

    return uvloop.run(main)


async def start_site(
    app: web.Application, host: str = "127.0.0.1", backlog: int = 1024
) -> tuple[web.AppRunner, int]:
    """Serve ``app`` on ``host``, a free port; (its runner, the port)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, 0, backlog=backlog)
    await site.start()
    assert site._server is not None
    return runner, int(site._server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]


def spawn_server(
    target: Callable[..., None], args: tuple[Any, ...], what: str, timeout: float
) -> tuple[multiprocessing.process.BaseProcess, Any]:
    """Start ``target(conn, *args)`` in a spawned process; (the process, the first thing it sends)."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=target, args=(child, *args), daemon=True, name=f"bench-{what}")
    process.start()
    if not parent.poll(timeout):
        process.terminate()
        raise RuntimeError(f"the {what} process did not start")
    return process, parent.recv()


def stop_server(process: multiprocessing.process.BaseProcess) -> None:
    process.terminate()
    process.join(5)


async def serve_forever(
    conn: Connection, routes: list[tuple[str, str, Handler]], answer: Callable[[int], Any] = int
) -> None:
    """Serve ``routes`` (method, path, handler) on a free loopback port, send ``answer(port)`` to the
    parent through ``conn``, and run until the process is terminated."""
    app = web.Application()
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
    _runner, port = await start_site(app)
    conn.send(answer(port))
    await asyncio.Event().wait()


async def control_call(method: str, url: str) -> Any:
    """One request to a control route of a bench server; its JSON answer (None for a 204)."""
    async with aiohttp.ClientSession() as session, session.request(method, url) as response:
        response.raise_for_status()
        return await response.json() if response.status == 200 else None


def receiver_main(conn: Connection) -> None:
    """Process entry point: serve POST /hook (204) and a few control routes; send the port back."""
    run_loop(_receiver(conn))


async def _receiver(conn: Connection) -> None:
    state: dict[str, Any] = {"count": 0, "duplicates": 0, "record": True, "arrivals": {}}

    async def hook(request: web.Request) -> web.Response:
        await request.read()
        now = time.time()
        state["count"] += 1
        if state["record"]:
            webhook_id = request.headers.get("webhook-id", "")
            if webhook_id in state["arrivals"]:
                state["duplicates"] += 1
            else:
                state["arrivals"][webhook_id] = now
        return web.Response(status=204)

    async def stats(_request: web.Request) -> web.Response:
        return web.json_response(
            {"count": state["count"], "duplicates": state["duplicates"], "unique": len(state["arrivals"])}
        )

    async def reset(request: web.Request) -> web.Response:
        state.update(count=0, duplicates=0, arrivals={}, record=request.query.get("record", "1") == "1")
        return web.Response(status=204)

    async def arrivals(_request: web.Request) -> web.Response:
        return web.json_response(state["arrivals"])

    routes: list[tuple[str, str, Handler]] = [
        ("POST", "/hook", hook),
        ("GET", "/_stats", stats),
        ("POST", "/_reset", reset),
        ("GET", "/_arrivals", arrivals),
    ]
    await serve_forever(conn, routes)


@dataclass
class ReceiverHandle:
    process: multiprocessing.process.BaseProcess
    port: int

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def hook_url(self) -> str:
        return f"{self.base}/hook"

    async def reset(self, *, record: bool = True) -> None:
        await control_call("POST", f"{self.base}/_reset?record={int(record)}")

    async def stats(self) -> dict[str, int]:
        return dict(await control_call("GET", f"{self.base}/_stats"))

    async def arrivals(self) -> dict[str, float]:
        return dict(await control_call("GET", f"{self.base}/_arrivals"))


def start_receiver() -> ReceiverHandle:
    process, port = spawn_server(receiver_main, (), "receiver", 30)
    return ReceiverHandle(process, int(port))


# -- the ceiling: a bare aiohttp client ------------------------------------------------------------


def sample_body() -> bytes:
    payload = get_event_kind("repo_push").sample_payload(REPO)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


async def measure_ceiling(receiver: ReceiverHandle, body: bytes, n: int) -> tuple[float, float]:
    """The median of CEILING_RUNS runs of ``ceiling_run``: (requests/s, client CPU ms per request)."""
    runs = sorted([await ceiling_run(receiver, body, n) for _ in range(CEILING_RUNS)])
    say("   ceiling runs: " + ", ".join(f"{rate:,.0f}/s" for rate, _cpu in runs))
    return runs[len(runs) // 2]


async def ceiling_run(receiver: ReceiverHandle, body: bytes, n: int) -> tuple[float, float]:
    """Requests/s of a bare aiohttp client, CONCURRENCY in flight, and its CPU ms per request."""
    await receiver.reset()
    errors = 0
    numbers = iter(range(n))
    connector = aiohttp.TCPConnector(limit=CONCURRENCY, limit_per_host=CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def client() -> None:
            nonlocal errors
            for i in numbers:
                headers = {"Content-Type": "application/json", "webhook-id": f"ceiling-{i}"}
                async with session.post(receiver.hook_url, data=body, headers=headers) as response:
                    await response.read()
                    errors += response.status != 204

        started, cpu = time.perf_counter(), process_cpu()
        await asyncio.gather(*(client() for _ in range(CONCURRENCY)))
        elapsed, cpu = time.perf_counter() - started, process_cpu() - cpu
    seen = (await receiver.stats())["count"]
    if errors or seen != n:
        raise RuntimeError(f"ceiling run broken: {errors} errors, receiver saw {seen} of {n}")
    return n / elapsed, 1000 * cpu / n


# -- CPU profile: where a run's CPU time goes (py-spy) ---------------------------------------------

PROFILE_RATE = 1000  # py-spy samples per second
PROFILE_START_SECONDS = 30.0

# The buckets of a CPU profile, as an ordered rule list: (bucket, file pattern, function pattern).
# Both are regular expressions searched in one frame: the file as py-spy shows it (relative to its
# sys.path entry: "sqlalchemy/orm/session.py", "regnotify/delivery/queue.py", "json/encoder.py";
# a bench script's own frames are "delivery.py", "harness.py") and the function's qualified name
# ("Worker.run", "ClaimReader.claimed"); an empty pattern matches anything. A sample goes to the
# first rule that matches any frame of its stack, so the order is the priority: the SQLAlchemy
# frames under ``claim`` count as "claim", not "database". Stacks are cut where SQLAlchemy switches
# greenlets (the driver's side of a query loses the regnotify frames that issued it) and where a
# task resumes (its stack starts at the task's coroutine, without whoever created the task), so a
# cut-off part lands in the bucket of the frames it kept: mostly "database" for the former. What
# the finisher's task does after a batch (``Worker._recorded``, ``Worker._claimed_more`` starting
# the sends it claimed) is not "record outcomes" or "claim" but the worker's own; a function that
# records and claims (``record_and_claim``) counts as recording, the claim it calls (``_sqlite_claim``,
# ``ClaimReader``) as claim. A sample without any Python frame (C code of the loop, a thread outside
# Python) goes to PROFILE_OTHER. Garbage collection has no frame of its own: a collection's samples
# land on the line whose allocation triggered it, so ``Profiler`` times collections separately.
PROFILE_BUCKETS: tuple[tuple[str, str, str], ...] = (
    ("benchmark's own polling", r"(^|/)delivery\.py$", r"^(count_states|wait_for_states|sample_pg_waits)\b"),
    ("benchmark's own polling", r"(^|/)harness\.py$", r"^poll_until\b"),
    ("claim", r"regnotify/delivery/", r"(^|\.)_*claim(_\w+)?$"),
    ("claim", r"regnotify/delivery/hot_path\.py$", r"^(?!.*record)(?i:.*claim)"),
    ("record outcomes", r"regnotify/delivery/outcome\.py$", ""),
    ("record outcomes", r"regnotify/delivery/hot_path\.py$", r"(?i)record"),
    ("log lines", r"(^|/)logging/", ""),
    ("metrics", r"(^|/)prometheus_client/|regnotify/runtime/metrics\.py$", ""),
    ("signature", r"(^|/)standardwebhooks/|(^|/)hmac\.py$", ""),
    ("signature", r"regnotify/methods/webhook\.py$", r"^(sign|webhook_headers)$"),
    ("request summary", r"regnotify/", r"(^|\.)(request_summary|mask_url)$"),
    ("request summary", r"regnotify/methods/urls\.py$", ""),
    ("JSON encoding", r"(^|/)json/encoder\.py$", ""),
    ("JSON encoding", "", r"(^|\.)encode_json$"),
    ("database (SQLAlchemy, driver)", r"(^|/)(sqlalchemy|aiosqlite|psycopg\w*|sqlite3)/|regnotify/db/", ""),
    ("HTTP client (aiohttp)", r"(^|/)(aiohttp|aiohappyeyeballs|multidict|yarl|propcache)/", ""),
    ("HTTP client (aiohttp)", r"regnotify/outbound/http\.py$", ""),
    ("sending, other regnotify code", r"regnotify/methods/|regnotify/delivery/preparing\.py$", ""),
    ("worker loop, lanes, gate", r"(^|/)regnotify/", ""),
)
PROFILE_OTHER = "event loop, tasks, sockets"  # a stack no rule matches
PROFILE_BUCKET_NAMES = tuple(dict.fromkeys([*(rule[0] for rule in PROFILE_BUCKETS), PROFILE_OTHER]))
_PROFILE_RULES = [(bucket, re.compile(path), re.compile(func)) for bucket, path, func in PROFILE_BUCKETS]


def parse_frame(frame: str) -> tuple[str, str]:
    """(qualified function name, file) of a py-spy frame ``func (path/file.py:line)``."""
    function, paren, where = frame.rpartition(" (")
    if not paren:
        return frame, ""
    return function, where.rstrip(")").rpartition(":")[0]


def classify(frames: list[tuple[str, str]]) -> str:
    """The bucket of a stack of (function, file) frames: the first rule that matches any frame."""
    for bucket, path, function in _PROFILE_RULES:
        if any(path.search(file) and function.search(name) for name, file in frames):
            return bucket
    return PROFILE_OTHER


def read_profile(raw: str) -> dict[str, int]:
    """Samples per bucket of py-spy's raw output: one ``frame;frame;...;frame COUNT`` per line."""
    samples = dict.fromkeys(PROFILE_BUCKET_NAMES, 0)
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            samples[classify([parse_frame(frame) for frame in stack.split(";")])] += int(count)
    return samples


def find_py_spy() -> str | None:
    """py-spy next to this Python (its virtualenv's bin/), else on PATH; None when there is none."""
    beside = Path(sys.executable).parent / "py-spy"
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which("py-spy")


class GcTimer:
    """Collections of each generation and the seconds they took, while started (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.passes = [0, 0, 0]
        self.seconds = [0.0, 0.0, 0.0]
        self._started = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.passes[info["generation"]] += 1
            self.seconds[info["generation"]] += time.perf_counter() - self._started

    def start(self) -> None:
        gc.callbacks.append(self._callback)

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._callback)


@dataclass
class CpuProfile:
    """The samples py-spy took of this process, per bucket of PROFILE_BUCKETS."""

    samples: dict[str, int]
    errors: int = 0  # samples py-spy failed to take (its "Errors:")
    py_spy_cpu_seconds: float = 0.0  # py-spy's own CPU time: it shares the machine's cores
    gc: GcTimer = field(default_factory=GcTimer)  # the collections meanwhile

    @property
    def total(self) -> int:
        return sum(self.samples.values())

    def figures(self, cpu_ms_per_unit: float, unit: str, units: int) -> dict[str, Any]:
        """Samples, share and microseconds of CPU per ``unit`` (share x ``cpu_ms_per_unit``) of
        each bucket, and the garbage collections over the ``units``, as the report prints and the
        JSON holds them."""
        total = max(self.total, 1)
        return {
            "rate_hz": PROFILE_RATE,
            "samples": self.total,
            "sampled_seconds": self.total / PROFILE_RATE,  # > CPU seconds: a runnable thread counts
            "errors": self.errors,
            "py_spy_cpu_seconds": round(self.py_spy_cpu_seconds, 3),
            "cpu_ms_per_unit": cpu_ms_per_unit,
            "unit": unit,
            "buckets": {
                bucket: {
                    "samples": n,
                    "share": n / total,
                    "us_per_unit": 1000 * cpu_ms_per_unit * n / total,
                }
                for bucket, n in self.samples.items()
            },
            "gc": {
                "passes_by_generation": self.gc.passes,
                "seconds_by_generation": [round(s, 4) for s in self.gc.seconds],
                "us_per_unit": 1e6 * sum(self.gc.seconds) / max(units, 1),
            },
        }


def child_cpu(pid: int) -> float:
    """CPU seconds (user + system) of a running child process, from /proc (0.0 when gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Profiler:
    """``py-spy record --pid <this process>`` (raw stacks, PROFILE_RATE a second, non-blocking)
    between ``start`` and ``stop``. Attaching to one's own process needs ptrace rights (root, or a
    ``kernel.yama.ptrace_scope`` of 0); without py-spy or those rights ``start`` says why and gives
    None, and the run goes on unprofiled."""

    def __init__(self, process: asyncio.subprocess.Process, output: Path, log: Path) -> None:
        self.process, self.output, self.log = process, output, log
        self.gc = GcTimer()

    @classmethod
    async def start(cls, what: str) -> Profiler | None:
        """A running profiler, once py-spy samples; None (said, with the reason) when it cannot."""
        py_spy = find_py_spy()
        if py_spy is None:
            say(f"{what}: py-spy not found next to {sys.executable} or on PATH; no CPU profile")
            return None
        directory = Path(tempfile.mkdtemp(prefix="regnotify-profile-"))
        output, log = directory / "stacks.txt", directory / "py-spy.log"
        argv = ["record", "--pid", str(os.getpid()), "--rate", str(PROFILE_RATE), "--format", "raw"]
        argv += ["--nonblocking", "--output", str(output)]
        with log.open("wb") as sink:
            process = await asyncio.create_subprocess_exec(
                py_spy, *argv, stdin=asyncio.subprocess.DEVNULL, stdout=sink, stderr=sink
            )
        profiler = cls(process, output, log)
        deadline = time.monotonic() + PROFILE_START_SECONDS
        while b"Sampling process" not in log.read_bytes():
            if process.returncode is not None or time.monotonic() > deadline:
                said = log_tail(log, 600).strip() or f"exit status {process.returncode}"
                await profiler.stop()
                say(f"{what}: py-spy did not start; no CPU profile: {said}")
                return None
            await asyncio.sleep(0.005)
        profiler.gc.start()
        return profiler

    async def stop(self) -> CpuProfile | None:
        """Stop py-spy (SIGINT: it writes its stacks, then exits) and sort its samples; None when it
        wrote none."""
        self.gc.stop()
        cpu = child_cpu(self.process.pid)
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(self.process.wait(), 60)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        try:
            if not self.output.exists():
                return None
            errors = 0
            for line in self.log.read_text(errors="replace").splitlines():
                if "Errors:" in line:
                    with contextlib.suppress(ValueError, IndexError):
                        errors = int(line.rpartition("Errors:")[2].split()[0])
            return CpuProfile(read_profile(self.output.read_text()), errors, cpu, self.gc)
        finally:
            shutil.rmtree(self.output.parent, ignore_errors=True)


# -- settings, environments and the scene ----------------------------------------------------------


def bench_settings(database_url: str, data_dir: Path, secret_key: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url, secret_key=secret_key, **BENCH_SETTINGS)


def regnotify_env(**settings: Any) -> dict[str, str]:
    """This process's environment without its REGNOTIFY_* variables, plus ``settings`` as
    REGNOTIFY_<NAME> (lists as JSON)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
    for name, value in settings.items():
        env[f"REGNOTIFY_{name.upper()}"] = json.dumps(value) if isinstance(value, list) else str(value)
    return env


def worker_env(database_url: str, data_dir: Path, secret_key: str) -> dict[str, str]:
    """The environment of a regnotify process with the settings of ``bench_settings``."""
    return regnotify_env(
        database_url=database_url, data_dir=data_dir, secret_key=secret_key, **BENCH_SETTINGS
    )


async def make_scene(db: Database, box: SecretBox, hook_url: str, notifications: int) -> Repository:
    """User ``admin``, organization ``acme``, repository ``acme/app`` with ``notifications`` webhooks."""
    webhook = get_method("webhook")
    async with db.write() as session:
        admin = await accounts.create_user(session, "admin", email="admin@example.com")
        await accounts.create_organization(session, "acme", admins=[admin])
        repository = await accounts.create_repository(session, "acme/app")
        for i in range(notifications):
            session.add(
                Notification(
                    uuid=str(uuid.uuid4()),
                    repository_id=repository.id,
                    title=f"bench webhook {i}",
                    event="repo_push",
                    method="webhook",
                    config=webhook.seal({"url": hook_url, "secret": WEBHOOK_SECRET}, box),
                    event_config={},
                )
            )
    return repository


async def record_backlog(db: Database, repository: Repository, events: int, *, source: str) -> None:
    """``events`` repo_push events, EVENTS_PER_TRANSACTION per write transaction, fanned out by
    ``record_event`` to every notification of ``repository``."""
    kind = get_event_kind("repo_push")
    payload = kind.sample_payload(REPO)
    for first in range(0, events, EVENTS_PER_TRANSACTION):
        async with db.write() as session:
            repo = await session.get(Repository, repository.id)
            assert repo is not None
            for _ in range(min(EVENTS_PER_TRANSACTION, events - first)):
                await record_event(session, repo, kind, payload, source=source)


# -- PostgreSQL: a schema of its own ---------------------------------------------------------------


@dataclass
class PostgresSchema:
    server_url: str
    schema: str = field(default_factory=lambda: f"regnotify_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}")
    version: str = ""  # the server's, once ``postgres_schema`` has asked

    @property
    def url(self) -> str:
        joiner = "&" if "?" in self.server_url else "?"
        return f"{self.server_url}{joiner}options=-csearch_path%3D{self.schema}"

    async def admin(self, statement: str) -> list[Any]:
        db = Database(async_driver_url(self.server_url))
        try:
            async with db.engine.begin() as conn:
                result = await conn.execute(text(statement))
                return list(result.all()) if result.returns_rows else []
        finally:
            await db.dispose()

    async def create(self) -> None:
        await self.admin(f'CREATE SCHEMA "{self.schema}"')

    async def drop(self) -> None:
        await self.admin(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


@contextlib.asynccontextmanager
async def postgres_schema(
    server_url: str,
    machine: dict[str, str],
    skipped: list[str],
    *,
    step: str = "",
    sync_commit: bool = True,
) -> AsyncIterator[PostgresSchema | None]:
    """A new schema on ``server_url``, dropped on the way out; None when the server cannot be
    reached (noted in ``skipped``). The server's version (and ``synchronous_commit``) goes to
    ``machine["postgresql"]``; ``step`` prefixes the progress lines."""
    schema = PostgresSchema(server_url)
    try:
        ((schema.version,),) = await schema.admin("SHOW server_version")
        described = schema.version
        if sync_commit:
            ((setting,),) = await schema.admin("SHOW synchronous_commit")
            described += f" (synchronous_commit={setting})"
        machine["postgresql"] = described
        await schema.create()
    except Exception as exc:
        skipped.append(f"postgresql: unreachable at {server_url} ({type(exc).__name__}: {exc})")
        say(f"{step}PostgreSQL unreachable ({type(exc).__name__}: {exc}); skipping it")
        created = False
    else:
        created = True
    if not created:
        yield None
        return
    try:
        yield schema
    finally:
        await schema.drop()
        say(f"{step}dropped schema {schema.schema}")


# -- regnotify processes ---------------------------------------------------------------------------

# What `regnotify serve` runs (cli.serve), minus the delivery worker inside the API process.
API_MAIN = """
import uvicorn
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.runtime.heap import freeze_startup_objects
from regnotify.runtime.logs import configure_logging, uvicorn_log_config

settings = Settings()
configure_logging(settings)
log_config = uvicorn_log_config(settings)
application = create_app(settings, worker=False)
freeze_startup_objects()
uvicorn.run(
    application,
    host=settings.host,
    port=settings.port,
    log_level="info",
    **({"log_config": log_config} if log_config else {}),
)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def log_tail(path: Path, chars: int = 2000) -> str:
    return path.read_text(errors="replace")[-chars:]


async def run_python(env: dict[str, str], logs: Path | None, *argv: str, what: str) -> str:
    """Run ``python *argv``; its stdout. With ``logs``, its output is appended to ``logs``/cli.log
    (else its stderr goes to ours); RuntimeError when it fails."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *argv,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE if logs is not None else None,
    )
    out, err = await process.communicate()
    err = err or b""
    if logs is not None:
        with (logs / "cli.log").open("ab") as log:
            log.write(out + err)
    if process.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{out.decode(errors='replace')}\n{err.decode(errors='replace')}")
    return out.decode()


async def run_cli(env: dict[str, str], logs: Path | None, *argv: str) -> str:
    """``regnotify *argv``; its stdout."""
    return await run_python(env, logs, "-m", "regnotify.cli", *argv, what=f"regnotify {' '.join(argv)}")


async def wait_healthz(
    base_url: str, seconds: float, process: asyncio.subprocess.Process | None = None
) -> bool:
    """Poll ``GET /healthz`` until it answers 200 (True), or ``process`` exits or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process is not None and process.returncode is not None:
                return False
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{base_url}/healthz") as response:
                    if response.status == 200:
                        return True
            await asyncio.sleep(0.1)
    return False


async def stop_processes(processes: list[asyncio.subprocess.Process], grace: float = 30) -> None:
    """SIGTERM to each process still running, then wait for them (SIGKILL after ``grace`` seconds)."""
    running = [p for p in processes if p.returncode is None]
    for process in running:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    for process in running:
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


@dataclass
class Stack:
    """The API process and the worker processes of one phase."""

    env: dict[str, str]
    logs: Path
    serve_with_worker: bool = False
    api: asyncio.subprocess.Process | None = None
    workers: list[asyncio.subprocess.Process] = field(default_factory=list)
    port: int = 0

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _spawn(self, name: str, *argv: str, env: dict[str, str]) -> asyncio.subprocess.Process:
        with (self.logs / f"{name}.log").open("ab") as log:
            return await asyncio.create_subprocess_exec(
                sys.executable, *argv, env=env, stdout=log, stderr=log, start_new_session=True
            )

    async def start_api(self) -> None:
        self.port = free_port()
        env = {**self.env, "REGNOTIFY_HOST": "127.0.0.1", "REGNOTIFY_PORT": str(self.port)}
        if self.serve_with_worker:
            self.api = await self._spawn("serve", "-m", "regnotify.cli", "serve", env=env)
        else:
            self.api = await self._spawn("api", "-c", API_MAIN, env=env)
        if await wait_healthz(self.api_url, 60, self.api):
            return
        if self.api.returncode is not None:
            raise RuntimeError(f"the API exited with {self.api.returncode}:\n{self.tail('api')}")
        raise RuntimeError(f"the API did not answer /healthz within 60 s:\n{self.tail('api')}")

    async def start_workers(self, count: int) -> None:
        for _ in range(count):
            name = f"worker-{len(self.workers)}"
            self.workers.append(await self._spawn(name, "-m", "regnotify.cli", "worker", env=self.env))

    def tail(self, name: str) -> str:
        path = self.logs / f"{'serve' if self.serve_with_worker and name == 'api' else name}.log"
        return log_tail(path) if path.exists() else "(no log)"

    def pids(self) -> dict[str, int]:
        found = {"api": self.api.pid} if self.api is not None else {}
        found.update({f"worker {i + 1}": w.pid for i, w in enumerate(self.workers)})
        return found

    async def check(self) -> None:
        for name, process in [("api", self.api), *((f"worker-{i}", w) for i, w in enumerate(self.workers))]:
            if process is not None and process.returncode is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}:\n{self.tail(name)}")

    async def stop(self) -> None:
        await stop_processes([p for p in [*self.workers, self.api] if p is not None])
        self.api, self.workers = None, []


async def wait_workers_started(stack: Stack, workers: int) -> None:
    """Until each worker process has logged that it runs (its loop is then polling for work)."""
    deadline = time.monotonic() + WORKER_START_SECONDS
    while time.monotonic() < deadline:
        logs = [stack.logs / f"worker-{n}.log" for n in range(workers)]
        if all(log.exists() and "started (concurrency" in log.read_text(errors="replace") for log in logs):
            return
        if any(worker.returncode is not None for worker in stack.workers):
            raise RuntimeError(f"a worker exited while starting:\n{stack.tail('worker-0')}")
        await asyncio.sleep(0.05)
    raise RuntimeError(f"the workers did not start within {WORKER_START_SECONDS:.0f} s")


# -- registry load: Distribution notification envelopes --------------------------------------------

MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
REPOSITORY = "acme/app"


def push_event(tag: str, repository: str = REPOSITORY) -> dict[str, Any]:
    """One Distribution event: a manifest pushed by tag (the shape the registry posts)."""
    digest = "sha256:" + secrets.token_hex(32)
    return {
        "id": str(uuid.uuid4()),
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000000000Z", time.gmtime()),
        "action": "push",
        "target": {
            "mediaType": OCI_MANIFEST,
            "size": 528,
            "digest": digest,
            "length": 528,
            "repository": repository,
            "url": f"http://registry.test:5000/v2/{repository}/manifests/{digest}",
            "tag": tag,
        },
        "request": {
            "id": str(uuid.uuid4()),
            "addr": "127.0.0.1:40000",
            "host": "registry.test:5000",
            "method": "PUT",
            "useragent": "containerd/v1.7.0",
        },
        "actor": {"name": "ci"},
        "source": {"addr": "registry:5000", "instanceID": "bench"},
    }


def envelope(tags: list[str], repository: str = REPOSITORY) -> bytes:
    events = [push_event(tag, repository) for tag in tags]
    return json.dumps({"events": events}, separators=(",", ":")).encode()


@dataclass
class Posted:
    sent: float  # time.time() when the request was started
    answered: float = 0.0
    status: int = 0
    accepted: int = 0
    error: str = ""


def client_session(limit: int, timeout: float = 120) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=limit)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout))


def events_request(api_url: str, token: str) -> tuple[str, dict[str, str]]:
    """The registry receiver's URL and the headers of an envelope posted with the source ``token``."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": MEDIA_TYPE}
    return f"{api_url}/api/v1/registry/events", headers


async def post_envelope(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str], body: bytes, into: Posted
) -> None:
    try:
        async with session.post(url, data=body, headers=headers) as response:
            answer = await response.read()
            into.status = response.status
            if response.status == 200:
                into.accepted = int(json.loads(answer).get("accepted", 0))
            else:
                into.error = answer[:200].decode(errors="replace")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        into.error = f"{type(exc).__name__}: {exc}"
    into.answered = time.time()


async def post_open_loop(
    session: aiohttp.ClientSession,
    api_url: str,
    token: str,
    bodies: list[bytes],
    rate: float,
    posted: list[Posted],
) -> list[asyncio.Task[None]]:
    """Post ``bodies``, body i at start + i / rate whether or not earlier ones were answered (open
    loop); appends each request's ``Posted`` to ``posted`` as it is sent; returns the answers' tasks."""
    url, headers = events_request(api_url, token)
    tasks: list[asyncio.Task[None]] = []
    started = time.monotonic()
    for i, body in enumerate(bodies):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        record = Posted(sent=time.time())
        posted.append(record)
        tasks.append(asyncio.create_task(post_envelope(session, url, headers, body, record)))
    return tasks
