"""The audit log of notification changes, and the limit on test calls."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import update

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, Notification
from regnotify.db.types import utcnow

from .conftest import World
from .test_notifications_api import BASE, SLACK_URL, assert_quay_error, create

LOGS = BASE + "logs"


async def new_notification(client: httpx.AsyncClient, world: World, title: str) -> str:
    body = {"event": "repo_push", "method": "slack", "config": {"url": SLACK_URL}, "title": title}
    response = await create(client, world, body)
    assert response.status_code == 201, response.text
    return str(response.json()["uuid"])


async def test_changes_are_logged_with_who_and_when(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    kept = await new_notification(client, world, "keep")
    dropped = await new_notification(client, world, "drop")
    admin = world.headers("admin")
    async with database.write() as session:  # a reset that changes nothing is not logged
        await session.execute(update(Notification).values(number_of_failures=2))
    assert (await client.post(BASE + kept, headers=admin)).status_code == 204  # reset
    assert (await client.post(BASE + kept + "/test", headers=world.headers("org_admin"))).status_code == 200
    assert (await client.delete(BASE + dropped, headers=admin)).status_code == 204

    response = await client.get(LOGS, headers=admin)
    assert response.status_code == 200, response.text
    logs = response.json()["logs"]
    assert [(entry["kind"], entry["metadata"]["title"]) for entry in logs] == [
        ("delete_repo_notification", "drop"),
        ("test_repo_notification", "keep"),
        ("reset_repo_notification", "keep"),
        ("add_repo_notification", "drop"),
        ("add_repo_notification", "keep"),
    ]
    assert logs[0]["performer"] == {"kind": "user", "name": "admin"}
    assert logs[1]["performer"] == {"kind": "user", "name": "org_admin"}
    assert logs[0]["metadata"] == {
        "notification_uuid": dropped,
        "title": "drop",
        "event": "repo_push",
        "method": "slack",
    }
    assert "delivery" in logs[1]["metadata"]
    assert logs[2]["metadata"]["was_enabled"] is True
    assert all(entry["datetime"] for entry in logs)
    assert SLACK_URL not in response.text and "XXXXSECRET" not in response.text  # never the config


async def test_logs_page_and_filter_by_notification(client: httpx.AsyncClient, world: World) -> None:
    uuids = [await new_notification(client, world, f"n{i}") for i in range(3)]
    admin = world.headers("admin")
    first = (await client.get(LOGS, params={"limit": 2}, headers=admin)).json()
    assert [e["metadata"]["title"] for e in first["logs"]] == ["n2", "n1"]
    second = (
        await client.get(LOGS, params={"limit": 2, "next_page": first["next_page"]}, headers=admin)
    ).json()
    assert [e["metadata"]["title"] for e in second["logs"]] == ["n0"] and second["next_page"] is None
    only = (await client.get(LOGS, params={"notification": uuids[1]}, headers=admin)).json()
    assert [e["metadata"]["notification_uuid"] for e in only["logs"]] == [uuids[1]]


async def test_only_the_repositorys_admins_read_its_log(client: httpx.AsyncClient, world: World) -> None:
    await new_notification(client, world, "secret plans")
    for who, status in (("anonymous", 401), ("reader", 403), ("writer", 403), ("other_admin", 403)):
        assert_quay_error(await client.get(LOGS, headers=world.headers(who)), status)
    other = await client.get(
        "/api/v1/repository/acme/other/notification/logs", headers=world.headers("other_admin")
    )
    assert other.status_code == 200 and other.json()["logs"] == []
    assert_quay_error(await client.get(LOGS, params={"limit": 0}, headers=world.headers("admin")), 400)


async def test_test_calls_are_limited_per_notification(
    client: httpx.AsyncClient, world: World, settings: Settings, database: Database
) -> None:
    settings.test_calls_per_minute = 2
    uuid = await new_notification(client, world, "tested")
    other = await new_notification(client, world, "other")
    admin = world.headers("admin")
    for _ in range(2):
        assert (await client.post(BASE + uuid + "/test", headers=admin)).status_code == 200
    refused = await client.post(BASE + uuid + "/test", headers=admin)
    body = assert_quay_error(refused, 429, "tested 2 times in the last minute", "try again in")
    assert body["error_type"] == "too_many_requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert (await client.post(BASE + other + "/test", headers=admin)).status_code == 200  # its own limit

    async with database.write() as session:  # a minute later the earlier tests no longer count
        await session.execute(update(Delivery).values(created_at=utcnow() - timedelta(seconds=61)))
    assert (await client.post(BASE + uuid + "/test", headers=admin)).status_code == 200
