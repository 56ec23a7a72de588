"""The periodic jobs (``jobs/schedule.py``) run beside every worker: the image-expiry scan queues its
event with nobody calling it, and a database that fails one job neither stops the other nor the task."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from regnotify.db.models import Delivery, Event
from regnotify.jobs import schedule
from regnotify.jobs.running import background_worker
from regnotify.jobs.schedule import PeriodicJobs

from .conftest import Scene
from .test_expiry_scan import expire, expiry_notification


async def expiry_events(scene: Scene) -> int:
    async with scene.db.read() as s:
        return int(await s.scalar(select(func.count(Event.id)).where(Event.kind == "repo_image_expiry")) or 0)


async def wait_for(condition: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not await condition():
        assert asyncio.get_running_loop().time() < deadline, "the periodic jobs did not run in time"
        await asyncio.sleep(0.05)


async def test_the_worker_of_serve_scans_for_expiring_tags_and_delivers(scene: Scene) -> None:
    """As ``serve`` runs it: the scan queues the event and the worker beside it delivers it."""
    await expiry_notification(scene, 7)
    await expire(scene, "soon", 2)

    async def delivered() -> bool:
        async with scene.db.read() as s:
            states = (await s.scalars(select(Delivery.state))).all()
        return states == ["succeeded"]

    async with background_worker(scene.db, scene.settings, scene.box):
        await wait_for(delivered)
    assert await expiry_events(scene) == 1


async def test_a_failing_purge_holds_back_neither_the_scan_nor_the_task(
    scene: Scene, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    purges = 0

    async def unavailable(*args: object) -> tuple[int, int]:
        nonlocal purges
        purges += 1
        raise OperationalError("DELETE", {}, Exception("database is locked"))

    monkeypatch.setattr(schedule, "purge", unavailable)
    monkeypatch.setattr(schedule, "PURGE_EVERY", 0.0)  # due at every turn, to see the task retry
    await expiry_notification(scene, 7)
    await expire(scene, "soon", 2)
    jobs = PeriodicJobs(scene.db, scene.settings)
    stop = asyncio.Event()
    caplog.set_level(logging.WARNING, logger="regnotify.jobs.schedule")
    task = asyncio.create_task(jobs.run(stop))
    try:

        async def retried() -> bool:
            return purges >= 2

        await wait_for(retried)  # the backoff after the first failure is 1 s
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=5)
    assert await expiry_events(scene) == 1  # the scan ran in the round whose purge failed
    assert "periodic jobs: database unavailable (OperationalError); retrying" in caplog.text


async def test_each_job_waits_for_its_own_interval(scene: Scene) -> None:
    settings = scene.settings.model_copy(update={"expiry_scan_interval": 3600.0})
    jobs = PeriodicJobs(scene.db, settings)
    assert jobs.seconds_to_next() == 0  # both are due at start
    await jobs.maybe_purge()
    await jobs.maybe_scan_expiries()
    assert schedule.PURGE_EVERY - 5 < jobs.seconds_to_next() <= schedule.PURGE_EVERY  # the purge is next
    await expiry_notification(scene, 7)
    await expire(scene, "soon", 2)
    await jobs.maybe_scan_expiries()  # not due for an hour: nothing queued
    assert await expiry_events(scene) == 0
