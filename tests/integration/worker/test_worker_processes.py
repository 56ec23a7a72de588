"""Worker processes as an operator runs them: killed mid-delivery, restarted, and two side by side."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, DeliveryAttempt

from .conftest import Scene


@dataclass
class SlowReceiver:
    url: str = ""
    hang_first: float = 0.0  # seconds the first request is held before answering
    fail_first: int = 0  # this many requests get a 500 first
    ids: list[str] = field(default_factory=list)
    first_arrived: asyncio.Event = field(default_factory=asyncio.Event)


@pytest.fixture
async def slow_receiver() -> AsyncIterator[SlowReceiver]:
    state = SlowReceiver()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        state.ids.append(request.headers["webhook-id"])
        state.first_arrived.set()
        if len(state.ids) == 1 and state.hang_first:
            await asyncio.sleep(state.hang_first)
        if len(state.ids) <= state.fail_first:
            return web.Response(status=500)
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


class WorkerProcesses:
    def __init__(self, settings: Settings, database: Database, tmp_path: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
        self.env.update(
            REGNOTIFY_DATA_DIR=str(tmp_path / "worker-data"),
            REGNOTIFY_DATABASE_URL=database.url,
            REGNOTIFY_SECRET_KEY=str(settings.secret_key),
            REGNOTIFY_OUTBOUND_ALLOWED_NETWORKS='["127.0.0.1/32"]',
            REGNOTIFY_LEASE_SECONDS="2",
            REGNOTIFY_RETRY_SCHEDULE="[0.2, 0.2, 0.2, 0.2]",
            REGNOTIFY_FAILURE_THRESHOLD="100",
            REGNOTIFY_POLL_INTERVAL="0.1",
            REGNOTIFY_HTTP_TOTAL_TIMEOUT="30",
        )
        self.log_dir = tmp_path
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            [sys.executable, "-m", "regnotify.cli", "worker"], env=self.env, stdout=log, stderr=log
        )
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def processes(worker_settings: Settings, database: Database, tmp_path: Path) -> Iterator[WorkerProcesses]:
    running = WorkerProcesses(worker_settings, database, tmp_path)
    yield running
    running.stop_all()


async def states(database: Database) -> dict[str, int]:
    async with database.read() as session:
        rows = await session.execute(select(Delivery.state, func.count()).group_by(Delivery.state))
        return {state: int(count) for state, count in rows.all()}


async def wait_until(database: Database, done: Any, seconds: float) -> dict[str, int]:
    for _ in range(int(seconds * 10)):
        current = await states(database)
        if done(current):
            return current
        await asyncio.sleep(0.1)
    return await states(database)


async def test_sigkill_mid_delivery_then_restart_delivers(
    scene: Scene, slow_receiver: SlowReceiver, processes: WorkerProcesses
) -> None:
    slow_receiver.hang_first = 20  # the first worker is killed while this request hangs
    await scene.notification("webhook", {"url": slow_receiver.url})
    await scene.push()
    first = processes.start("first")
    await asyncio.wait_for(slow_receiver.first_arrived.wait(), timeout=30)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert (await states(scene.db)) == {"pending": 1}  # nothing recorded by the dead worker
    processes.start("second")
    final = await wait_until(scene.db, lambda s: s.get("succeeded") == 1, 30)
    assert final == {"succeeded": 1}
    assert len(slow_receiver.ids) == 2 and len(set(slow_receiver.ids)) == 1  # same webhook-id, twice


async def test_receiver_that_fails_then_recovers_gets_everything(
    scene: Scene, slow_receiver: SlowReceiver, processes: WorkerProcesses
) -> None:
    slow_receiver.fail_first = 15
    await scene.notification("webhook", {"url": slow_receiver.url})
    for index in range(20):
        await scene.push(f"t{index}")
    processes.start("worker")
    final = await wait_until(scene.db, lambda s: s.get("succeeded") == 20, 60)
    assert final == {"succeeded": 20}
    assert len(set(slow_receiver.ids)) == 20


@pytest.mark.postgres_only  # several worker processes share one PostgreSQL; SQLite runs one
async def test_two_worker_processes_deliver_every_row_once(
    scene: Scene, slow_receiver: SlowReceiver, processes: WorkerProcesses
) -> None:
    await scene.notification("webhook", {"url": slow_receiver.url})
    for index in range(200):
        await scene.push(f"t{index}")
    processes.start("a")
    processes.start("b")
    final = await wait_until(scene.db, lambda s: s.get("succeeded") == 200, 90)
    assert final == {"succeeded": 200}
    assert len(slow_receiver.ids) == 200 and len(set(slow_receiver.ids)) == 200
    async with scene.db.read() as session:
        by_worker = dict(
            (
                await session.execute(
                    select(DeliveryAttempt.worker, func.count()).group_by(DeliveryAttempt.worker)
                )
            ).all()
        )
    print("deliveries per worker process:", json.dumps(by_worker))
    assert sum(by_worker.values()) == 200


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_a_worker_process_serves_metrics_and_logs_json(
    scene: Scene, slow_receiver: SlowReceiver, processes: WorkerProcesses, tmp_path: Path
) -> None:
    """REGNOTIFY_WORKER_METRICS_PORT and REGNOTIFY_LOG_FORMAT=json, as an operator sets them; at
    REGNOTIFY_LOG_LEVEL=DEBUG the successful attempts are logged too (at DEBUG, failures at INFO)."""
    slow_receiver.fail_first = 1
    port = free_port()
    processes.env.update(
        REGNOTIFY_WORKER_METRICS_PORT=str(port), REGNOTIFY_LOG_FORMAT="json", REGNOTIFY_LOG_LEVEL="DEBUG"
    )
    await scene.notification("webhook", {"url": slow_receiver.url})
    for index in range(3):
        await scene.push(f"t{index}")
    processes.start("observed")
    assert await wait_until(scene.db, lambda s: s.get("succeeded") == 3, 60) == {"succeeded": 3}

    async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/metrics") as response:
        assert response.status == 200
        families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    outcomes = {
        sample.labels["outcome"]: sample.value
        for sample in families["regnotify_delivery_outcomes"].samples
        if sample.name.endswith("_total") and sample.labels["method"] == "webhook"
    }
    assert outcomes == {"succeeded": 3.0, "retry": 1.0}
    histogram = families["regnotify_delivery_attempt_seconds"].samples
    assert [s.value for s in histogram if s.name.endswith("_count")] == [4.0]

    processes.stop_all()
    lines = [json.loads(line) for line in (tmp_path / "observed.log").read_text().splitlines() if line]
    attempt_lines = [line for line in lines if "delivery_id" in line]
    assert len(attempt_lines) == 4
    assert {line["outcome"] for line in attempt_lines} == {"retry", "succeeded"}
    assert set(slow_receiver.ids) == {line["delivery_id"] for line in attempt_lines}
    assert all(line["method"] == "webhook" for line in attempt_lines)
    assert {(line["outcome"], line["level"]) for line in attempt_lines} == {
        ("retry", "INFO"),
        ("succeeded", "DEBUG"),
    }
