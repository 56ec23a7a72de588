"""Real parts the fault tests drive: worker processes, receivers, a repository, a private PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from sqlalchemy import func, select

from regnotify import accounts
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, DeliveryAttempt, Notification, Repository, User
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from regnotify.methods import get_method
from regnotify.runtime.crypto import SecretBox

DIGEST = "sha256:" + "f" * 64


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- receivers ------------------------------------------------------------------------------------


@dataclass
class Receiver:
    """An aiohttp webhook receiver on 127.0.0.1 that records each ``webhook-id`` and when it came."""

    port: int = 0
    delay: float = 0.0  # seconds each request is held before the 204
    arrivals: list[tuple[float, str]] = field(default_factory=list)  # (time.monotonic(), webhook-id)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    @property
    def ids(self) -> list[str]:
        return [webhook_id for _at, webhook_id in self.arrivals]

    def counts(self) -> Counter[str]:
        return Counter(self.ids)

    async def _handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.arrivals.append((time.monotonic(), request.headers["webhook-id"]))
        if self.delay:
            await asyncio.sleep(self.delay)
        return web.Response(status=204)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        await site.start()
        self.port = int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def wait_for(self, count: int, seconds: float) -> None:
        """Until ``count`` requests have arrived in all; AssertionError after ``seconds``."""
        deadline = time.monotonic() + seconds
        while len(self.arrivals) < count:
            assert time.monotonic() < deadline, f"only {len(self.arrivals)} of {count} requests arrived"
            await asyncio.sleep(0.002)


@dataclass
class BlackHole:
    """Accepts connections and reads whatever comes, but never answers."""

    port: int = 0
    connections: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while await reader.read(65536):
                pass
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    async def start(self) -> BlackHole:
        self._server = await asyncio.start_server(self._swallow, "127.0.0.1", self.port)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None


# -- the repository and its deliveries ------------------------------------------------------------


@dataclass
class Scene:
    """A repository ``acme/app`` with an admin, and what the tests add to it."""

    db: Database
    settings: Settings
    box: SecretBox
    repository: Repository
    admin: User

    @classmethod
    async def create(cls, db: Database, settings: Settings, box: SecretBox) -> Scene:
        async with db.write() as session:
            admin = await accounts.create_user(session, "admin", email="admin@example.com")
            await accounts.create_organization(session, "acme", admins=[admin])
            repository = await accounts.create_repository(session, "acme/app")
        return cls(db, settings, box, repository, admin)

    async def notification(self, method: str, config: dict[str, Any], title: str) -> Notification:
        async with self.db.write() as session:
            notification = Notification(
                uuid=str(uuid.uuid4()),
                repository_id=self.repository.id,
                title=title,
                event="repo_push",
                method=method,
                config=get_method(method).seal(config, self.box),
                event_config={},
            )
            session.add(notification)
        return notification

    async def push(self, tags: list[str], per_transaction: int = 50) -> None:
        """One ``repo_push`` event per tag (a delivery for each notification), a few per transaction."""
        kind = get_event_kind("repo_push")
        ref = repository_ref(self.repository, self.settings)
        for start in range(0, len(tags), per_transaction):
            async with self.db.write() as session:
                for tag in tags[start : start + per_transaction]:
                    payload = kind.build_payload(ref, {"updated_tags": {tag: DIGEST}})
                    await record_event(session, self.repository, kind, payload, source="test")

    async def states(self) -> dict[str, int]:
        async with self.db.read() as session:
            rows = await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
            return {state: int(count) for state, count in rows.all()}

    async def wait_for_states(self, done: dict[str, int], seconds: float) -> dict[str, int]:
        """The delivery states once they are ``done``, or as they are after ``seconds``."""
        deadline = time.monotonic() + seconds
        current = await self.states()
        while current != done and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
            current = await self.states()
        return current

    async def deliveries(self) -> list[Delivery]:
        async with self.db.read() as session:
            return list(await session.scalars(select(Delivery).order_by(Delivery.id)))

    async def attempts(self) -> dict[int, list[DeliveryAttempt]]:
        """Each delivery's recorded attempts, by delivery id, in order."""
        async with self.db.read() as session:
            rows = await session.scalars(
                select(DeliveryAttempt).order_by(DeliveryAttempt.delivery_id, DeliveryAttempt.number)
            )
            found: dict[int, list[DeliveryAttempt]] = {}
            for attempt in rows:
                found.setdefault(attempt.delivery_id, []).append(attempt)
            return found


# -- worker processes -----------------------------------------------------------------------------


class WorkerProcesses:
    """``python -m regnotify.cli worker`` processes, configured the way an operator does: REGNOTIFY_*."""

    def __init__(self, database_url: str, secret_key: str, log_dir: Path, **settings: str) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
        self.env.update(
            REGNOTIFY_DATA_DIR=str(log_dir / "worker-data"),
            REGNOTIFY_DATABASE_URL=database_url,
            REGNOTIFY_SECRET_KEY=secret_key,
            REGNOTIFY_OUTBOUND_ALLOWED_NETWORKS='["127.0.0.1/32"]',
        )
        self.env.update({f"REGNOTIFY_{name.upper()}": value for name, value in settings.items()})
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (the child keeps it)
        process = subprocess.Popen(
            [sys.executable, "-m", "regnotify.cli", "worker"], env=self.env, stdout=log, stderr=log
        )
        log.close()
        self.processes.append(process)
        return process

    def log(self, name: str) -> str:
        return (self.log_dir / f"{name}.log").read_text(errors="replace")

    def stop_all(self, timeout: float = 30) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


# -- a private PostgreSQL cluster -----------------------------------------------------------------


def postgres_bin_dir() -> Path | None:
    """The newest installed PostgreSQL server binaries (Debian's layout), if any."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name)
    )
    return Path(found[-1]).parent if found else None


class PrivatePostgres:
    """A throwaway PostgreSQL cluster on 127.0.0.1 and a free port, for tests that stop and start it.

    Never the machine's shared server: other tests and people use that one. As root, the cluster is
    run as the ``postgres`` user (initdb refuses root), in a directory of its own under /tmp.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="regnotify-faults-pg-"))
        self.data = self.root / "data"
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, timeout: float = 60) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        completed = subprocess.run(command, capture_output=True, timeout=timeout, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {completed.stderr.decode(errors='replace')[-2000:]}")

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start"
        )

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
