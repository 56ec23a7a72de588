"""Fairness across destinations, with a real worker loop and real sockets on both databases.

Hung receivers (they accept, read the request and never answer) must not delay a healthy receiver
beyond its own send: the slow lane takes their sends and the gate holds the rest. A destination
that refuses connections is quarantined: its deliveries are held without attempts, and come back
when a probe gets an answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from regnotify.config import Settings
from regnotify.db.models import Delivery, DeliveryAttempt
from regnotify.delivery.destinations import HELD_QUARANTINED, HELD_SLOW
from regnotify.jobs.running import background_worker

from .conftest import Scene

HUNG = 6
EVENTS = 10


@dataclass
class HungReceiver:
    """Accepts connections, reads what comes, never answers until ``close``."""

    port: int = 0
    connections: int = 0
    _server: asyncio.Server | None = None
    _writers: list[asyncio.StreamWriter] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.append(writer)
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while await reader.read(65536):
                pass

    async def start(self) -> HungReceiver:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def close(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()


@dataclass
class Healthy:
    """An aiohttp receiver that answers 200 at once and notes the order of what it got."""

    url: str = ""
    arrivals: list[str] = field(default_factory=list)  # webhook-id of each request


@pytest.fixture
async def healthy() -> AsyncIterator[Healthy]:
    state = Healthy()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        state.arrivals.append(request.headers.get("webhook-id", ""))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook"  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


async def wait_until(condition: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def rows(scene: Scene, column: Any) -> list[Any]:
    async with scene.db.read() as session:
        return list(await session.scalars(select(column)))


def lanes(scene: Scene, **changes: float) -> Settings:
    """Four main slots, hung sends timing out only after 30 s, and the given changes."""
    values = {"worker_concurrency": 4, "http_total_timeout": 30, "poll_interval": 0.05, **changes}
    return scene.settings.model_copy(update=values)


@contextlib.asynccontextmanager
async def hung_beside(scene: Scene, healthy: Healthy) -> AsyncIterator[tuple[list[HungReceiver], int]]:
    """HUNG hung receivers and the healthy one, a notification each, EVENTS pushes; yields the hung
    receivers and the healthy notification's id, and lets the hung connections go at the end."""
    hung = [await HungReceiver().start() for _ in range(HUNG)]
    try:
        for receiver in hung:
            await scene.notification("webhook", {"url": receiver.url})
        healthy_notification = await scene.notification("webhook", {"url": healthy.url})
        for index in range(EVENTS):
            await scene.push(f"v{index}")
        yield hung, healthy_notification.id
    finally:
        for receiver in hung:
            await receiver.close()


async def test_hung_receivers_do_not_delay_a_healthy_one(scene: Scene, healthy: Healthy) -> None:
    # Four main slots and six hung receivers: without lanes, the hung sends hold every slot until
    # their 30 s timeout and the healthy receiver waits behind them.
    settings = lanes(scene, slow_lane_concurrency=4, destination_slow_after=0.2)

    async def all_arrived() -> bool:
        return len(healthy.arrivals) >= EVENTS

    async with (
        hung_beside(scene, healthy) as (hung, healthy_id),
        background_worker(scene.db, settings, scene.box) as worker,
    ):
        await wait_until(all_arrived)
        attempts = await rows(scene, DeliveryAttempt)
        deliveries = await rows(scene, Delivery)
        # every healthy delivery went out while no hung send had ended (their timeout is 30 s)
        assert {a.delivery_id for a in attempts} <= {
            d.id for d in deliveries if d.notification_id == healthy_id
        }
        assert sum(r.connections for r in hung) >= 1
        assert worker.gate.counts.moved_to_slow_lane >= 1
        assert worker.gate.counts.held[HELD_SLOW] >= 1  # hung sends beyond the lane waited, unsent
        for receiver in hung:  # let the worker stop without waiting for its timeouts
            await receiver.close()
    assert len(await rows(scene, Delivery)) == EVENTS * (HUNG + 1)  # nothing was lost


async def test_a_full_lane_does_not_wait_long_on_receivers_that_never_answered(
    scene: Scene, healthy: Healthy
) -> None:
    # The slow threshold is 20 s here: only the shorter leash for never-answered destinations (while
    # the main lane is full) lets the healthy receiver's deliveries through within the wait below.
    settings = lanes(scene, slow_lane_concurrency=8, destination_slow_after=20)

    async def all_arrived() -> bool:
        return len(healthy.arrivals) >= EVENTS

    async with (
        hung_beside(scene, healthy) as (hung, _),
        background_worker(scene.db, settings, scene.box) as worker,
    ):
        await wait_until(all_arrived, seconds=10)
        assert worker.gate.counts.moved_to_slow_lane >= 1
        hung_names = {f"127.0.0.1:{r.port}" for r in hung}
        assert not any(d.answered for d in worker.gate.known() if d.name in hung_names)
        for receiver in hung:
            await receiver.close()


async def test_an_unreachable_destination_is_quarantined_then_probed(scene: Scene) -> None:
    settings = scene.settings.model_copy(
        update={
            "per_host_concurrency": 1,
            "destination_failure_threshold": 2,
            "destination_quarantine_seconds": 1.0,
            "retry_schedule": [0.01] * 5,
            "failure_threshold": 100,
            "http_connect_timeout": 1,
        }
    )
    # a port with nothing listening: connections are refused
    placeholder = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = int(placeholder.sockets[0].getsockname()[1])
    placeholder.close()
    await placeholder.wait_closed()
    await scene.notification("webhook", {"url": f"http://127.0.0.1:{port}/hook"})
    for index in range(4):
        await scene.push(f"q{index}")

    received: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        received.append(request.headers.get("webhook-id", ""))
        return web.Response(text="ok")

    async def quarantined() -> bool:  # held, and the failures before it recorded (they are batched)
        held = HELD_QUARANTINED in await rows(scene, Delivery.lease_owner)
        return held and len(await rows(scene, DeliveryAttempt)) >= settings.destination_failure_threshold

    async def all_succeeded() -> bool:
        return await rows(scene, Delivery.state) == ["succeeded"] * 4

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        async with background_worker(scene.db, settings, scene.box) as worker:
            await wait_until(quarantined)
            # the threshold's failed attempts, then holds: no attempt while quarantined
            assert len(await rows(scene, DeliveryAttempt)) == settings.destination_failure_threshold
            # the receiver comes up on that port: the probe after the quarantine gets its answer
            await web.TCPSite(runner, "127.0.0.1", port).start()
            await wait_until(all_succeeded)
            outcomes = sorted(a.outcome for a in await rows(scene, DeliveryAttempt))
            assert outcomes == ["failed"] * 2 + ["succeeded"] * 4
            assert len(received) == 4
            assert worker.gate.counts.quarantines >= 1
    finally:
        await runner.cleanup()
