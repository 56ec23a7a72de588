"""Quay's notification routes: shapes, validation, uuid scoping, secrets encrypted and masked."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regnotify.db import Database
from regnotify.db.models import Delivery, Event, Notification

from .conftest import World

BASE = "/api/v1/repository/acme/app/notification/"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXXXXXXSECRET"
QUAY_ERROR_KEYS = {"status", "error_type", "detail", "error_message", "title", "type"}


def assert_quay_error(response: httpx.Response, status: int, *fragments: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body.keys() >= QUAY_ERROR_KEYS, body
    assert body["status"] == status
    assert body["detail"] == body["error_message"]
    for fragment in fragments:
        assert fragment in body["detail"], body["detail"]
    return body


async def create(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], who: str = "admin"
) -> httpx.Response:
    return await client.post(BASE, json=body, headers=world.headers(who))


async def test_create_list_get_delete(client: httpx.AsyncClient, world: World) -> None:
    response = await create(
        client,
        world,
        {
            "event": "repo_push",
            "method": "webhook",
            "config": {"url": "https://receiver.example.com/hook"},
            "eventConfig": {},
            "title": "Tell CI",
        },
    )
    assert response.status_code == 201, response.text
    view = response.json()
    assert set(view) == {
        "uuid",
        "title",
        "event",
        "method",
        "config",
        "event_config",
        "number_of_failures",
        "enabled",
        "signing_secret",
        "created",
    }
    assert (view["title"], view["event"], view["method"]) == ("Tell CI", "repo_push", "webhook")
    assert view["number_of_failures"] == 0 and view["enabled"] is True

    listed = await client.get(BASE, headers=world.headers("admin"))
    assert listed.status_code == 200
    assert [n["uuid"] for n in listed.json()["notifications"]] == [view["uuid"]]

    one = await client.get(BASE + view["uuid"], headers=world.headers("admin"))
    assert one.status_code == 200 and one.json()["uuid"] == view["uuid"]

    gone = await client.delete(BASE + view["uuid"], headers=world.headers("admin"))
    assert gone.status_code == 204
    assert_quay_error(await client.get(BASE + view["uuid"], headers=world.headers("admin")), 404)
    assert (await client.get(BASE, headers=world.headers("admin"))).json() == {"notifications": []}


async def test_routes_without_trailing_slash(client: httpx.AsyncClient, world: World) -> None:
    body = {
        "event": "repo_push",
        "method": "email",
        "config": {"email": "ops@example.com"},
        "eventConfig": {},
    }
    response = await client.post(BASE.rstrip("/"), json=body, headers=world.headers("admin"))
    assert response.status_code == 201, response.text
    assert (await client.get(BASE.rstrip("/"), headers=world.headers("admin"))).status_code == 200


async def test_secrets_encrypted_at_rest_and_masked(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await create(
        client,
        world,
        {"event": "build_failure", "method": "slack", "config": {"url": SLACK_URL}, "eventConfig": {}},
    )
    assert response.status_code == 201, response.text
    assert "SECRET" not in response.text and "T000" not in response.text
    listed = await client.get(BASE, headers=world.headers("admin"))
    assert "SECRET" not in listed.text
    async with database.read() as session:
        stored = await session.scalar(select(Notification))
    assert stored is not None
    assert SLACK_URL not in str(stored.config)
    assert str(stored.config["url"]).startswith("enc:")


async def test_uuid_of_another_repository_is_not_found(client: httpx.AsyncClient, world: World) -> None:
    body = {
        "event": "repo_push",
        "method": "email",
        "config": {"email": "ops@example.com"},
        "eventConfig": {},
    }
    other = await client.post(
        "/api/v1/repository/acme/other/notification/", json=body, headers=world.headers("superuser")
    )
    assert other.status_code == 201, other.text
    foreign = other.json()["uuid"]
    headers = world.headers("admin")
    for method, suffix in (("GET", ""), ("DELETE", ""), ("POST", ""), ("POST", "/test")):
        response = await client.request(method, BASE + foreign + suffix, headers=headers)
        assert_quay_error(response, 404, foreign)
    # the superuser, admin of both, still cannot reach it through the wrong repository
    assert_quay_error(await client.get(BASE + foreign, headers=world.headers("superuser")), 404)


async def test_reset_enables_and_clears_failures(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    body = {
        "event": "repo_push",
        "method": "email",
        "config": {"email": "ops@example.com"},
        "eventConfig": {},
    }
    uuid = (await create(client, world, body)).json()["uuid"]
    async with database.write() as session:
        stored = await session.scalar(select(Notification).where(Notification.uuid == uuid))
        assert stored is not None
        stored.number_of_failures = 10
        stored.enabled = False
    disabled = (await client.get(BASE + uuid, headers=world.headers("admin"))).json()
    assert (disabled["enabled"], disabled["number_of_failures"]) == (False, 10)
    assert (await client.post(BASE + uuid, headers=world.headers("admin"))).status_code == 204
    again = (await client.get(BASE + uuid, headers=world.headers("admin"))).json()
    assert (again["enabled"], again["number_of_failures"]) == (True, 0)


async def test_test_call_queues_sample_for_that_notification_alone(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    body = {
        "event": "vulnerability_found",
        "method": "email",
        "config": {"email": "ops@example.com"},
        "eventConfig": {"level": "Critical"},
    }
    first = (await create(client, world, body)).json()["uuid"]
    await create(client, world, body)  # a second, which the test of the first must not reach
    response = await client.post(BASE + first + "/test", headers=world.headers("admin"))
    assert response.status_code == 200, response.text
    delivery_id = response.json()["delivery"]["id"]
    async with database.read() as session:
        rows = (
            await session.execute(select(Delivery, Event, Notification).join(Event).join(Notification))
        ).all()
    assert len(rows) == 1
    delivery, event, notification = rows[0]
    assert delivery.uuid == delivery_id and delivery.is_test and event.is_test
    assert notification.uuid == first
    assert event.payload["repository"] == "acme/app"
    assert event.payload["docker_url"] == "registry.test:5000/acme/app"
    assert event.payload["vulnerability"]["id"]


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        (
            {"event": "repo_pushed", "method": "webhook", "config": {"url": "https://receiver.example.com/"}},
            400,
            "repo_pushed",
        ),
        ({"event": "repo_push", "method": "carrier_pigeon", "config": {}}, 400, "carrier_pigeon"),
        ({"event": "repo_push", "method": "webhook", "config": {}}, 400, "url"),
        (
            {"event": "repo_push", "method": "webhook", "config": {"url": "ftp://receiver.example.com/"}},
            400,
            "http",
        ),
        (
            {"event": "repo_push", "method": "webhook", "config": {"url": "http://127.0.0.1:8080/"}},
            400,
            "127.0.0.1",
        ),
        (
            {"event": "repo_push", "method": "webhook", "config": {"url": "https://internal.example.com/"}},
            400,
            "10.1.2.3",
        ),
        (
            {
                "event": "repo_push",
                "method": "webhook",
                "config": {"url": "https://receiver.example.com/", "template": "{not json"},
            },
            400,
            "template",
        ),
        (
            {
                "event": "repo_push",
                "method": "slack",
                "config": {"url": "https://evil.example.com/services/x"},
            },
            400,
            "hooks.slack.com",
        ),
        ({"event": "repo_push", "method": "email", "config": {"email": "not-an-address"}}, 400, "email"),
        ({"event": "repo_push", "method": "hipchat", "config": {"room_id": "1"}}, 400, "notification_token"),
        ({"event": "repo_push", "method": "flowdock", "config": {}}, 400, "flow_api_token"),
        ({"event": "repo_push", "method": "quay_notification", "config": {}}, 400, "target"),
        (
            {
                "event": "repo_push",
                "method": "quay_notification",
                "config": {"target": {"kind": "user", "name": "ghost"}},
            },
            400,
            "ghost",
        ),
        (
            {
                "event": "repo_push",
                "method": "quay_notification",
                "config": {"target": {"kind": "user", "name": "noaccess"}},
            },
            400,
            "noaccess",
        ),
        (
            {
                "event": "repo_push",
                "method": "quay_notification",
                "config": {"target": {"kind": "team", "name": "nope"}},
            },
            400,
            "nope",
        ),
        (
            {
                "event": "repo_push",
                "method": "quay_notification",
                "config": {"target": {"kind": "org", "name": "other"}},
            },
            400,
            "other",
        ),
        (
            {
                "event": "repo_push",
                "method": "quay_notification",
                "config": {"target": {"kind": "robot", "name": "x"}},
            },
            400,
            "kind",
        ),
        (
            {
                "event": "build_success",
                "method": "email",
                "config": {"email": "a@example.com"},
                "eventConfig": {"ref-regex": "(unclosed"},
            },
            400,
            "ref-regex",
        ),
        (
            {
                "event": "vulnerability_found",
                "method": "email",
                "config": {"email": "a@example.com"},
                "eventConfig": {"level": "Catastrophic"},
            },
            400,
            "level",
        ),
        (
            {
                "event": "vulnerability_found",
                "method": "email",
                "config": {"email": "a@example.com"},
                "eventConfig": {"level": 9},
            },
            400,
            "level",
        ),
        (
            {
                "event": "repo_image_expiry",
                "method": "email",
                "config": {"email": "a@example.com"},
                "eventConfig": {},
            },
            400,
            "days",
        ),
        (
            {
                "event": "repo_push",
                "method": "email",
                "config": {"email": "a@example.com"},
                "eventConfig": {"tag-patterns": "latest"},
            },
            400,
            "tag-patterns",
        ),
        (
            {
                "event": "repo_push",
                "method": "email",
                "config": {"email": "a@example.com"},
                "eventConfig": {"colour": "red"},
            },
            400,
            "colour",
        ),
        ({"event": "repo_push", "method": "email", "config": "a@example.com"}, 400, "config"),
        ({"event": "repo_push", "method": "email"}, 400, "config"),
        (
            {
                "event": "repo_push",
                "method": "email",
                "config": {"email": "a@example.com"},
                "title": "x" * 300,
            },
            400,
            "title",
        ),
    ],
)
async def test_invalid_requests_are_400_and_not_stored(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], status: int, fragment: str
) -> None:
    response = await create(client, world, body)
    assert_quay_error(response, status, fragment)
    assert (await client.get(BASE, headers=world.headers("admin"))).json() == {"notifications": []}


async def test_valid_filters_are_stored(client: httpx.AsyncClient, world: World) -> None:
    cases = [
        ("vulnerability_found", {"level": "high"}, {"level": "high"}),  # a level stays as sent, as in Quay
        ("vulnerability_found", {"level": "2"}, {"level": "2"}),
        ("vulnerability_found", {"level": 2}, {"level": 2}),
        ("repo_image_expiry", {"days": 7}, {"days": 7}),
        ("build_success", {"ref-regex": "refs/heads/main"}, {"ref-regex": "refs/heads/main"}),
        ("repo_push", {"tag-patterns": ["v*", "latest"]}, {"tag-patterns": ["v*", "latest"]}),
    ]
    for event, given, stored in cases:
        body = {"event": event, "method": "email", "config": {"email": "a@example.com"}, "eventConfig": given}
        response = await create(client, world, body)
        assert response.status_code == 201, response.text
        assert response.json()["event_config"] == stored


async def test_quay_notification_targets(client: httpx.AsyncClient, world: World) -> None:
    for target in ({"kind": "user", "name": "reader"}, {"kind": "org", "name": "acme"}):
        body = {
            "event": "repo_push",
            "method": "quay_notification",
            "config": {"target": target},
            "eventConfig": {},
        }
        response = await create(client, world, body)
        assert response.status_code == 201, response.text
        assert response.json()["config"]["target"] == target


async def test_webhook_signing_secret_is_generated_and_masked(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    body = {
        "event": "repo_push",
        "method": "webhook",
        "config": {"url": "https://receiver.example.com/hook?token=abc123", "secret": True},
        "eventConfig": {},
    }
    response = await create(client, world, body)
    assert response.status_code == 201, response.text
    shown = response.json()["config"]
    assert "abc123" not in response.text
    async with database.read() as session:
        stored = await session.scalar(select(Notification))
    assert stored is not None and str(stored.config["secret"]).startswith("enc:")
    assert shown["secret"] != stored.config["secret"]
    assert response.json()["signing_secret"].startswith("whsec_")
    assert (
        response.json()["signing_secret"] not in (await client.get(BASE, headers=world.headers("admin"))).text
    )


async def test_delete_removes_the_notifications_queued_deliveries(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    body = {
        "event": "repo_push",
        "method": "email",
        "config": {"email": "ops@example.com"},
        "eventConfig": {},
    }
    uuid = (await create(client, world, body)).json()["uuid"]
    assert (await client.post(BASE + uuid + "/test", headers=world.headers("admin"))).status_code == 200
    assert (await client.delete(BASE + uuid, headers=world.headers("admin"))).status_code == 204
    async with database.read() as session:
        assert (await session.scalars(select(Delivery))).all() == []
        assert len((await session.scalars(select(Event))).all()) == 1  # the event itself stays
