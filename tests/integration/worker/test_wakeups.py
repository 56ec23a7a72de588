"""Waking workers when deliveries are committed: in this process, in another process, and a worker that
delivers with a poll interval far too long to be the reason (both engines)."""

from __future__ import annotations

import asyncio
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db import Database
from regnotify.db.wakeup import Wakeup
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from regnotify.jobs.running import background_worker
from regnotify.runtime.crypto import secret_box

from .conftest import DIGEST, Scene


async def started(db: Database) -> AsyncIterator[Wakeup]:
    """A started Wakeup whose start-up signal (PostgreSQL: the listener connected) is consumed."""
    wakeup = Wakeup(db)
    wakeup.start()
    try:
        if db.dialect == "postgresql":
            await asyncio.wait_for(wakeup.event.wait(), timeout=10)
        wakeup.event.clear()
        wakeup.wakeups = 0
        yield wakeup
    finally:
        await wakeup.stop()


@pytest.fixture
async def wakeup(scene: Scene) -> AsyncIterator[Wakeup]:
    async for running in started(scene.db):
        yield running


@pytest.fixture
async def subscribed(scene: Scene) -> Scene:
    await scene.notification("webhook", {"url": "http://127.0.0.1:9/hook"})
    return scene


async def record_push(scene: Scene, session: AsyncSession, tag: str = "latest") -> None:
    kind = get_event_kind("repo_push")
    ref = repository_ref(scene.repository, scene.settings)
    payload = kind.build_payload(ref, {"updated_tags": {tag: DIGEST}})
    await record_event(session, scene.repository, kind, payload, source="test")


async def test_a_commit_wakes_this_process_s_worker_then_and_not_before(
    subscribed: Scene, wakeup: Wakeup
) -> None:
    async with subscribed.db.write() as session:
        await record_push(subscribed, session, "v1")
        await record_push(subscribed, session, "v2")  # twice in one transaction: one wake
        await asyncio.sleep(0.05)
        assert not wakeup.event.is_set(), "woken before the deliveries were committed"
    assert wakeup.event.is_set()  # at the commit itself: no round trip
    assert wakeup.wakeups == 1
    await asyncio.sleep(0.3)  # PostgreSQL: the notice this process sent itself does not wake it twice
    assert wakeup.wakeups == 1


async def test_a_rolled_back_transaction_wakes_nobody(subscribed: Scene, wakeup: Wakeup) -> None:
    with pytest.raises(RuntimeError):
        async with subscribed.db.write() as session:
            await record_push(subscribed, session)
            raise RuntimeError("changed my mind")
    await asyncio.sleep(0.3)
    assert not wakeup.event.is_set() and wakeup.wakeups == 0


async def test_a_released_savepoint_waits_for_the_outer_commit(subscribed: Scene, wakeup: Wakeup) -> None:
    async with subscribed.db.write() as session:
        async with session.begin_nested():
            await record_push(subscribed, session)
        assert not wakeup.event.is_set(), "woken when a savepoint was released"
    assert wakeup.event.is_set() and wakeup.wakeups == 1


async def test_nothing_queued_wakes_nobody(scene: Scene, wakeup: Wakeup) -> None:
    await scene.push()  # no notification: no delivery, no announce
    await asyncio.sleep(0.2)
    assert wakeup.wakeups == 0


CHILD = textwrap.dedent(
    """
    import asyncio, sys, time
    from regnotify.db import Database
    from regnotify.db.wakeup import Wakeup

    async def main() -> None:
        db = Database(sys.argv[1])
        wakeup = Wakeup(db)
        wakeup.start()
        if db.dialect == "postgresql":
            await asyncio.wait_for(wakeup.event.wait(), 10)
        wakeup.event.clear()
        before = wakeup.wakeups
        print("ready", wakeup.has_doorbell, flush=True)
        try:
            await asyncio.wait_for(wakeup.event.wait(), 20)  # no polling here: only a signal ends this
            print("woken", wakeup.wakeups - before, flush=True)
        except TimeoutError:
            print("not woken", flush=True)
        await wakeup.stop()
        await db.dispose()

    asyncio.run(main())
    """
)


async def test_a_commit_wakes_a_worker_in_another_process(subscribed: Scene) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CHILD, subscribed.db.url, stdout=asyncio.subprocess.PIPE
    )
    assert child.stdout is not None
    try:
        ready = (await asyncio.wait_for(child.stdout.readline(), timeout=30)).decode().split()
        assert ready[0] == "ready"
        if subscribed.db.dialect == "sqlite":
            assert ready[1] == "True", "the other process could not bind its wake-up socket"
        await subscribed.push()
        woken = (await asyncio.wait_for(child.stdout.readline(), timeout=30)).decode().split()
        assert woken == ["woken", "1"]
    finally:
        if child.returncode is None:
            child.kill()
        await child.wait()
    if subscribed.db.dialect == "sqlite":
        assert sockets_beside(subscribed.db) == []  # it removed its own on stop


def sockets_beside(db: Database) -> list[str]:
    return [path.name for path in Path(db.url.split("///", 1)[1] + "-wakeup").iterdir()]


@pytest.fixture
async def hook() -> AsyncIterator[tuple[str, asyncio.Queue[str]]]:
    arrived: asyncio.Queue[str] = asyncio.Queue()

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        arrived.put_nowait(request.headers["webhook-id"])
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/hook", arrived  # type: ignore[union-attr]
    await runner.cleanup()


async def test_the_worker_inside_serve_delivers_without_waiting_for_a_poll(
    scene: Scene, hook: tuple[str, asyncio.Queue[str]]
) -> None:
    """As ``serve`` runs it (``background_worker``), polling every 30 s: only a wake can deliver in time."""
    url, arrived = hook
    settings = scene.settings.model_copy(update={"poll_interval": 30.0})
    await scene.notification("webhook", {"url": url})
    async with background_worker(scene.db, settings, secret_box(settings)) as worker:
        await asyncio.sleep(0.5)  # its first look found nothing: it waits for a wake or the poll
        woken_before = worker.wakeup.wakeups
        for tag in ("v1", "v2", "v3"):
            await scene.push(tag)
            await asyncio.wait_for(arrived.get(), timeout=10)
        assert worker.wakeup.wakeups > woken_before
