"""Posting events: validation against the event's model, idempotency, and matching to notifications."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from regnotify.db import Database
from regnotify.db.models import Delivery, Event, InboxItem, Notification, Repository, User
from regnotify.delivery.inbox import DatabaseInbox, add_notices

from .conftest import World
from .test_notifications_api import assert_quay_error
from .test_quay_differences import outgoing

EVENTS = "/api/v1/repository/acme/app/events"
NOTIFICATIONS = "/api/v1/repository/acme/app/notification/"
DIGEST = "sha256:" + "b" * 64


async def subscribe(client: httpx.AsyncClient, world: World, event: str, event_config: dict[str, Any]) -> str:
    body = {
        "event": event,
        "method": "email",
        "config": {"email": "ops@example.com"},
        "eventConfig": event_config,
    }
    response = await client.post(NOTIFICATIONS, json=body, headers=world.headers("admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["uuid"])


async def post(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], who: str = "writer"
) -> httpx.Response:
    return await client.post(EVENTS, json=body, headers=world.headers(who))


async def count(database: Database, model: Any) -> int:
    async with database.read() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_push_is_stored_with_common_fields_and_matched(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    wanted = await subscribe(client, world, "repo_push", {})
    await subscribe(client, world, "build_success", {})  # another kind: not matched
    response = await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {"latest": DIGEST}}})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["payload"] == {
        "repository": "acme/app",
        "namespace": "acme",
        "name": "app",
        "docker_url": "registry.test:5000/acme/app",
        "homepage": "https://regnotify.test/repository/acme/app",
        "updated_tags": {"latest": DIGEST},
    }
    assert [d["notification_uuid"] for d in body["deliveries"]] == [wanted]
    assert body["deliveries"][0]["state"] == "pending"
    async with database.read() as session:
        delivery = await session.scalar(select(Delivery))
        assert delivery is not None and delivery.uuid == body["deliveries"][0]["id"]
        assert delivery.state == "pending" and delivery.attempts == 0


async def test_common_fields_in_data_are_replaced(client: httpx.AsyncClient, world: World) -> None:
    data = {"repository": "evil/repo", "docker_url": "evil.example.com/x", "updated_tags": {"v1": DIGEST}}
    response = await post(client, world, {"kind": "repo_push", "data": data})
    assert response.status_code == 201, response.text
    assert response.json()["payload"]["repository"] == "acme/app"
    assert response.json()["payload"]["docker_url"] == "registry.test:5000/acme/app"


async def test_same_id_is_idempotent(client: httpx.AsyncClient, world: World, database: Database) -> None:
    await subscribe(client, world, "repo_push", {})
    body = {"kind": "repo_push", "data": {"updated_tags": {"latest": DIGEST}}, "id": "evt-1"}
    first = await post(client, world, body)
    again = await post(client, world, body, who="service")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["deliveries"] == first.json()["deliveries"]
    assert await count(database, Event) == 1
    assert await count(database, Delivery) == 1
    changed = dict(body, data={"updated_tags": {"latest": "sha256:" + "c" * 64}})
    assert_quay_error(await post(client, world, changed), 409, "evt-1")


async def test_disabled_notifications_are_not_matched(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    uuid = await subscribe(client, world, "repo_push", {})
    async with database.write() as session:
        notification = await session.scalar(select(Notification).where(Notification.uuid == uuid))
        assert notification is not None
        notification.enabled = False
    response = await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {"latest": DIGEST}}})
    assert response.status_code == 201
    assert response.json()["deliveries"] == []
    assert await count(database, Event) == 1


async def test_filters_decide_which_notifications_match(client: httpx.AsyncClient, world: World) -> None:
    main_only = await subscribe(client, world, "build_failure", {"ref-regex": "refs/heads/main"})
    any_ref = await subscribe(client, world, "build_failure", {})
    critical = await subscribe(client, world, "vulnerability_found", {"level": "Critical"})
    medium_up = await subscribe(client, world, "vulnerability_found", {"level": 2})
    releases = await subscribe(client, world, "repo_push", {"tag-patterns": ["v*"]})

    def matched(response: httpx.Response) -> set[str]:
        assert response.status_code == 201, response.text
        return {d["notification_uuid"] for d in response.json()["deliveries"]}

    build = {
        "build_id": "b1",
        "docker_tags": ["latest"],
        "error_message": "boom",
        "trigger_metadata": {"ref": "refs/heads/feature"},
    }
    assert matched(await post(client, world, {"kind": "build_failure", "data": build})) == {any_ref}
    build["trigger_metadata"] = {"ref": "refs/heads/main"}
    assert matched(await post(client, world, {"kind": "build_failure", "data": build})) == {
        any_ref,
        main_only,
    }

    vuln = {"tags": ["latest"], "vulnerability": {"id": "CVE-1", "priority": "High"}}
    assert matched(await post(client, world, {"kind": "vulnerability_found", "data": vuln})) == {medium_up}
    vuln["vulnerability"]["priority"] = "Critical"  # type: ignore[index]
    assert matched(await post(client, world, {"kind": "vulnerability_found", "data": vuln})) == {
        critical,
        medium_up,
    }

    push = {"updated_tags": {"latest": DIGEST}}
    assert matched(await post(client, world, {"kind": "repo_push", "data": push})) == set()
    push = {"updated_tags": {"v1.2": DIGEST}}
    assert matched(await post(client, world, {"kind": "repo_push", "data": push})) == {releases}


async def test_invalid_events_are_400_and_not_stored(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"kind": "repo_pushed", "data": {}}, "repo_pushed"),
        ({"kind": "repo_push", "data": {}}, "updated_tags"),
        ({"kind": "repo_push", "data": {"updated_tags": ["latest"]}}, "updated_tags"),
        ({"kind": "repo_push", "data": {"updated_tags": {"latest": DIGEST}, "extra": 1}}, "extra"),
        ({"kind": "build_failure", "data": {"build_id": "b", "docker_tags": ["x"]}}, "error_message"),
        (
            {
                "kind": "vulnerability_found",
                "data": {"tags": ["x"], "vulnerability": {"id": "C", "priority": "Apocalyptic"}},
            },
            "priority",
        ),
        ({"kind": "repo_push", "data": "latest"}, "data"),
        ({"kind": "repo_push"}, "data"),
        ({"kind": "repo_push", "data": {"updated_tags": {"latest": DIGEST}}, "id": ""}, "id"),
    ]
    for body, fragment in cases:
        assert_quay_error(await post(client, world, body), 400, fragment)
    assert await count(database, Event) == 0


async def test_events_need_write_or_a_service_token(client: httpx.AsyncClient, world: World) -> None:
    body = {"kind": "repo_push", "data": {"updated_tags": {"latest": DIGEST}}}
    assert (await post(client, world, body, who="service")).status_code == 201
    assert_quay_error(await post(client, world, body, who="reader"), 403, "write")
    assert_quay_error(await post(client, world, body, who="anonymous"), 401)
    missing = await client.post(
        "/api/v1/repository/acme/ghost/events", json=body, headers=world.headers("service")
    )
    assert_quay_error(missing, 404, "acme/ghost")


async def test_list_events_newest_first(client: httpx.AsyncClient, world: World) -> None:
    for tag in ("one", "two"):
        await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {tag: DIGEST}}})
    response = await client.get(EVENTS, headers=world.headers("reader"))
    assert response.status_code == 200
    tags = [list(e["payload"]["updated_tags"]) for e in response.json()["events"]]
    assert tags == [["two"], ["one"]]


# -- what each role sees ---------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["anonymous", "noaccess", "reader", "writer", "admin", "org_admin"])
async def test_test_events_and_who_posted_are_for_admins_only(
    client: httpx.AsyncClient, world: World, database: Database, who: str
) -> None:
    """On a public repository anyone reads the events list; only its admins see test events (who
    pressed Test) and each event's source (which user or token posted it)."""
    async with database.write() as session:
        await session.execute(update(Repository).where(Repository.name == "app").values(visibility="public"))
    uuid = await subscribe(client, world, "repo_push", {})
    tested = await client.post(f"{NOTIFICATIONS}{uuid}/test", headers=world.headers("admin"))
    assert tested.status_code == 200, tested.text
    posted = await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {"v1": DIGEST}}})
    assert posted.status_code == 201, posted.text

    response = await client.get(EVENTS, headers=world.headers(who))
    assert response.status_code == 200, response.text
    events = response.json()["events"]
    if who in ("admin", "org_admin"):
        assert [e["source"] for e in events] == ["user:writer", "test:user:admin"]
    else:
        assert [e["id"] for e in events] == [posted.json()["id"]]
        assert "source" not in events[0], events[0]
        assert "user:" not in response.text


async def test_in_app_notices_carry_no_notification_uuid(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """A notice's metadata is the event's payload (Quay's); which notification sent it is for the
    repository's admins, on its pages, not for every reader the notice reaches."""
    notification = await subscribe(client, world, "repo_push", {})
    inbox = DatabaseInbox(database)
    assert await inbox.notify(target_kind="user", target_name="reader", outgoing=outgoing(notification)) == 1
    async with database.write() as session:
        (stored,) = await session.scalars(select(InboxItem))
        assert "notification_uuid" not in stored.item_metadata  # not stored either
        reader = await session.scalar(select(User).where(User.username == "reader"))
        assert reader is not None
        # a notice stored before, with the uuid in it
        await add_notices(
            session,
            [reader],
            kind="repo_push",
            metadata={"repository": "acme/app", "notification_uuid": notification},
            repository_id=None,
            delivery_id=None,
        )
    response = await client.get("/api/v1/user/notifications", headers=world.headers("reader"))
    assert response.status_code == 200, response.text
    notices = response.json()["notifications"]
    assert len(notices) == 2
    assert all("notification_uuid" not in notice["metadata"] for notice in notices), notices
    assert notification not in response.text
    assert notices[1]["metadata"]["updated_tags"] == ["v1"]  # the payload is still there
