"""Whatever queues a delivery wakes the workers when it commits: events, the Test button, Redeliver,
and re-enabling a notification whose deliveries were held."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import update

from regnotify.db import Database
from regnotify.db.models import Delivery, Notification
from regnotify.db.wakeup import Wakeup

from .conftest import World
from .test_events_api import DIGEST, NOTIFICATIONS, post, subscribe


@pytest.fixture
async def wakeup(database: Database) -> AsyncIterator[Wakeup]:
    wakeup = Wakeup(database)
    wakeup.start()
    try:
        if database.dialect == "postgresql":  # the listener says it connected
            await asyncio.wait_for(wakeup.event.wait(), timeout=10)
        yield wakeup
    finally:
        await wakeup.stop()


def reset(wakeup: Wakeup) -> None:
    wakeup.event.clear()
    wakeup.wakeups = 0


async def queued(client: httpx.AsyncClient, world: World) -> tuple[str, str]:
    """A notification and one pending delivery of it."""
    uuid = await subscribe(client, world, "repo_push", {})
    response = await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {"v1": DIGEST}}})
    assert response.status_code == 201, response.text
    (delivery,) = response.json()["deliveries"]
    return uuid, delivery["id"]


async def test_an_event_wakes_the_workers(client: httpx.AsyncClient, world: World, wakeup: Wakeup) -> None:
    await subscribe(client, world, "repo_push", {})
    reset(wakeup)
    await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {"v1": DIGEST}}})
    assert wakeup.event.is_set() and wakeup.wakeups >= 1


async def test_the_test_button_wakes_the_workers(
    client: httpx.AsyncClient, world: World, wakeup: Wakeup
) -> None:
    uuid = await subscribe(client, world, "repo_push", {})
    reset(wakeup)
    response = await client.post(f"{NOTIFICATIONS}{uuid}/test", headers=world.headers("admin"))
    assert response.status_code == 200, response.text
    assert wakeup.event.is_set() and wakeup.wakeups >= 1


async def test_redeliver_wakes_the_workers(
    client: httpx.AsyncClient, world: World, wakeup: Wakeup, database: Database
) -> None:
    uuid, delivery = await queued(client, world)
    async with database.write() as session:
        await session.execute(update(Delivery).where(Delivery.uuid == delivery).values(state="failed"))
    reset(wakeup)
    response = await client.post(
        f"{NOTIFICATIONS}{uuid}/deliveries/{delivery}/redeliver", headers=world.headers("admin")
    )
    assert response.status_code == 202, response.text
    assert wakeup.event.is_set() and wakeup.wakeups >= 1


async def test_re_enabling_wakes_the_workers_for_the_held_deliveries(
    client: httpx.AsyncClient, world: World, wakeup: Wakeup, database: Database
) -> None:
    uuid, _ = await queued(client, world)
    async with database.write() as session:
        await session.execute(update(Notification).where(Notification.uuid == uuid).values(enabled=False))
    reset(wakeup)
    response = await client.post(f"{NOTIFICATIONS}{uuid}", headers=world.headers("admin"))
    assert response.status_code == 204, response.text
    assert wakeup.event.is_set() and wakeup.wakeups >= 1
