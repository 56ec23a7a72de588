"""ref-regex through the API, on both engines: matched by RE2, so a hostile pattern and ref cannot stall
a build POST (issue 12, "Isolation"); what RE2 cannot run is a 400 naming the construct."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, update

from regnotify.db import Database
from regnotify.db.models import Delivery, Notification

from .conftest import World
from .test_notifications_api import assert_quay_error

BUILDS = "/api/v1/repository/acme/app/builds"
NOTIFICATIONS = "/api/v1/repository/acme/app/notification/"


async def subscribe(client: httpx.AsyncClient, world: World, ref_regex: str) -> httpx.Response:
    body = {
        "event": "build_queued",
        "method": "email",
        "config": {"email": "ops@example.com"},
        "eventConfig": {"ref-regex": ref_regex},
    }
    return await client.post(NOTIFICATIONS, json=body, headers=world.headers("admin"))


async def queue_build(client: httpx.AsyncClient, world: World, ref: str) -> httpx.Response:
    body = {"docker_tags": ["latest"], "trigger_kind": "github", "trigger_metadata": {"ref": ref}}
    return await client.post(BUILDS, json=body, headers=world.headers("writer"))


async def deliveries_of(database: Database, uuid: str) -> int:
    async with database.read() as session:
        query = (
            select(func.count())
            .select_from(Delivery)
            .join(Notification, Delivery.notification_id == Notification.id)
            .where(Notification.uuid == uuid)
        )
        return int(await session.scalar(query) or 0)


async def test_nested_quantifier_against_a_long_ref_answers_and_does_not_fire(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """On Python's re this build POST (4,000 a's and a "!" against ^(a+)+$) would never answer."""
    created = await subscribe(client, world, "^(a+)+$")
    assert created.status_code == 201, created.text
    uuid = created.json()["uuid"]
    assert created.json()["event_config"] == {"ref-regex": "^(a+)+$"}

    queued = await queue_build(client, world, "a" * 4000 + "!")
    assert queued.status_code == 201, queued.text
    assert await deliveries_of(database, uuid) == 0

    queued = await queue_build(client, world, "a" * 4000)  # the filter really ran: this ref matches
    assert queued.status_code == 201, queued.text
    assert await deliveries_of(database, uuid) == 1


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        (r"(a)\1", r"ref-regex uses a backreference (\1), which cannot be matched in linear time"),
        (r"refs/heads/(?!wip)", "ref-regex uses a negative lookahead ((?!...))"),
    ],
)
async def test_patterns_re2_cannot_run_are_refused_naming_the_construct(
    client: httpx.AsyncClient, world: World, database: Database, pattern: str, construct: str
) -> None:
    response = await subscribe(client, world, pattern)
    body = assert_quay_error(response, 400, construct, "RE2")
    assert body["detail"].startswith(construct)
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_a_stored_pattern_re2_cannot_run_fires_nothing(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """A row saved before RE2 (Python's re accepted the backreference) neither stalls nor fires."""
    created = await subscribe(client, world, "^refs/heads/")
    assert created.status_code == 201, created.text
    uuid = created.json()["uuid"]
    async with database.write() as session:
        await session.execute(
            update(Notification)
            .where(Notification.uuid == uuid)
            .values(event_config={"ref-regex": r"^refs/heads/(\w+)-\1$"})
        )
    queued = await queue_build(client, world, "refs/heads/a-a")
    assert queued.status_code == 201, queued.text
    assert await deliveries_of(database, uuid) == 0
