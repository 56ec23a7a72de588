"""Restart PostgreSQL during a run: the API answers 503 in Quay's shape while it is down (never a 500,
never a hang), the worker process reconnects by itself, and nothing accepted is lost.

The database is a private cluster started for this test (never the machine's shared server), the
API is ``create_app`` served by uvicorn on 127.0.0.1, the worker is a ``regnotify worker`` process.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from cryptography.fernet import Fernet

from regnotify.accounts import issue_token
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database, migrate
from regnotify.runtime.crypto import secret_box
from tests.conftest import require_real_part

from .conftest import Record
from .parts import PrivatePostgres, Receiver, Scene, WorkerProcesses, free_port, postgres_bin_dir

pytestmark = pytest.mark.faults

CLIENT_TIMEOUT = 12.0  # a request still unanswered after this is a hang (the pool waits at most 10 s)
DOWN_FOR = 4.0  # seconds of API calls while the database is stopped
BEFORE, AFTER = 40, 40  # events posted before the outage and after it
QUAY_ERROR_KEYS = {"status", "error_type", "title", "detail", "error_message", "type"}


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = postgres_bin_dir()
    require_real_part(
        bin_dir is not None, "PostgreSQL's server binaries (/usr/lib/postgresql/*/bin) are not installed"
    )
    assert bin_dir is not None
    require_real_part(
        os.geteuid() != 0 or shutil.which("runuser") is not None,
        "running as root without runuser, so initdb cannot run as the postgres user",
    )
    server = PrivatePostgres(bin_dir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.destroy()


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[str]:
    """``create_app(settings)`` (no worker inside) on a real uvicorn server; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(300):
        if server.started or task.done():
            break
        await asyncio.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def check_unavailable(response: httpx.Response) -> None:
    """A 503 in Quay's error shape, with a Retry-After."""
    assert response.status_code == 503, f"{response.status_code}: {response.text[:500]}"
    body = response.json()
    assert set(body) == QUAY_ERROR_KEYS, body
    assert body["status"] == 503 and body["error_type"] == "service_unavailable"
    assert body["detail"] == body["error_message"] == "the database is unavailable; retry shortly"
    assert body["type"].endswith("/api/v1/error/service_unavailable")
    assert response.headers["Retry-After"].isdigit()


async def test_postgresql_restart_during_a_run(
    private_postgres: PrivatePostgres, tmp_path: Path, figures: Record
) -> None:
    pg = private_postgres
    db = Database(pg.url)
    await migrate(db.engine)
    settings = Settings(
        data_dir=tmp_path / "api-data",
        database_url=pg.url,
        public_base_url="https://regnotify.test",
        secret_key=Fernet.generate_key().decode(),
        outbound_allowed_networks=["127.0.0.1/32"],
    )
    scene = await Scene.create(db, settings, secret_box(settings))
    async with db.write() as session:
        token = (await issue_token(session, name="faults", user=scene.admin)).secret
    receiver = await Receiver(delay=0.3).start()  # slow enough that the outage lands mid-run
    await scene.notification("webhook", {"url": receiver.url}, "hook")
    workers = WorkerProcesses(
        pg.url,
        str(settings.secret_key),
        tmp_path,
        lease_seconds="2",
        retry_schedule="[0.5, 0.5, 0.5, 0.5, 0.5]",
        failure_threshold="1000",
        poll_interval="0.2",
        worker_concurrency="8",  # all sent within the lease: only the outage causes resends
        per_host_concurrency="4",
        http_total_timeout="5",
    )
    accepted: dict[str, str] = {}  # event id -> delivery uuid, for every 201
    unavailable: list[float] = []  # seconds each 503 took
    worker = workers.start("worker")
    try:
        async with (
            serving(settings) as base,
            httpx.AsyncClient(
                base_url=f"{base}/api/v1/repository/acme/app",
                headers={"Authorization": f"Bearer {token}"},
                timeout=CLIENT_TIMEOUT,
            ) as http,
        ):

            def post(event_id: str) -> Awaitable[httpx.Response]:
                return http.post(
                    "/events",
                    json={
                        "kind": "repo_push",
                        "id": event_id,
                        "data": {"updated_tags": {event_id: "sha256:" + "a" * 64}},
                    },
                )

            async def accept(event_id: str) -> None:
                response = await post(event_id)
                assert response.status_code == 201, f"{response.status_code}: {response.text[:500]}"
                [delivery] = response.json()["deliveries"]
                accepted[event_id] = delivery["id"]

            for index in range(BEFORE):
                await accept(f"before-{index}")
            await receiver.wait_for(5, seconds=60)  # the worker is delivering: now stop the database

            edge: dict[str, int] = {}  # posts in flight as the database stops and starts: id -> status
            streaming = asyncio.Event()
            streaming.set()

            async def stream() -> None:
                while streaming.is_set():
                    event_id = f"edge-{len(edge)}"
                    try:
                        response = await post(event_id)
                    except httpx.TimeoutException:
                        pytest.fail(f"an API call hung for {CLIENT_TIMEOUT}s around the restart")
                    edge[event_id] = response.status_code
                    if response.status_code == 201:
                        accepted[event_id] = response.json()["deliveries"][0]["id"]
                    else:
                        check_unavailable(response)
                    await asyncio.sleep(0.05)

            streamer = asyncio.create_task(stream())
            await asyncio.sleep(0.1)
            pending_at_stop = BEFORE - len(set(receiver.ids))
            pg.stop("fast")
            down_at = time.monotonic()
            refused: list[str] = []
            calls: list[Callable[[int], Awaitable[httpx.Response]]] = [
                lambda i: post(f"down-{i}"),
                lambda _i: http.get("/notification/"),
                lambda _i: http.get("/events"),
            ]
            index = 0
            while time.monotonic() - down_at < DOWN_FOR:
                call = calls[index % len(calls)]
                started = time.monotonic()
                try:
                    response = await call(index)
                except httpx.TimeoutException:
                    pytest.fail(f"an API call hung for {CLIENT_TIMEOUT}s while the database was down")
                unavailable.append(time.monotonic() - started)
                check_unavailable(response)
                if index % len(calls) == 0:
                    refused.append(f"down-{index}")
                index += 1
                await asyncio.sleep(0.05)
            assert worker.poll() is None, "the worker exited while the database was down"

            pg.start()
            up_at = time.monotonic()
            while True:  # the first call the API answers again
                response = await post("after-0")
                if response.status_code == 201:
                    break
                check_unavailable(response)
                assert time.monotonic() - up_at < 30, "the API did not recover within 30 s"
                await asyncio.sleep(0.1)
            api_recovered = time.monotonic() - up_at
            [delivery] = response.json()["deliveries"]
            accepted["after-0"] = delivery["id"]
            streaming.clear()
            await streamer
            for event_id in refused:  # a refused post stored nothing: posting it again is new (201)
                await accept(event_id)
            stored_anyway = 0  # refused, but committed just before the connection went: a duplicate now
            for event_id, status in edge.items():
                if status == 503:
                    response = await post(event_id)
                    assert response.status_code in (200, 201), response.text[:500]
                    stored_anyway += response.status_code == 200
                    accepted[event_id] = response.json()["deliveries"][0]["id"]
            for index in range(1, AFTER):
                await accept(f"after-{index}")

        total = len(accepted)
        final = await scene.wait_for_states({"succeeded": total}, seconds=120)
        assert final == {"succeeded": total}, workers.log("worker")[-3000:]
        assert worker.poll() is None, "the worker should have reconnected, not exited"
        first_arrival = {webhook_id: at for at, webhook_id in reversed(receiver.arrivals)}
        worker_recovered = first_arrival[accepted["after-0"]] - up_at
        workers.stop_all()
        assert worker.returncode == 0
        deliveries = {d.uuid for d in await scene.deliveries()}
    finally:
        workers.stop_all()
        await receiver.close()
        await db.dispose()

    counts = receiver.counts()
    assert deliveries == set(accepted.values())  # a refused post queued nothing
    assert set(counts) == deliveries  # nothing accepted is lost
    log = workers.log("worker")
    assert "database unavailable" in log or "could not record" in log  # the worker did see the outage
    figures(
        {
            "accepted_events": total,
            "undelivered_at_stop": pending_at_stop,
            "api_503s_while_down": len(unavailable) + sum(1 for status in edge.values() if status == 503),
            "posts_in_flight_at_stop_and_start": len(edge),
            "refused_but_stored": stored_anyway,
            "api_500s": 0,
            "slowest_503_s": round(max(unavailable), 3),
            "down_s": round(up_at - down_at, 1),
            "api_recovered_s": round(api_recovered, 2),
            "worker_recovered_s": round(worker_recovered, 2),
            "delivered": len(counts),
            "arrived_twice": sum(1 for n in counts.values() if n >= 2),
        }
    )
