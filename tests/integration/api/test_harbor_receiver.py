"""The Harbor receiver: Harbor's Default and CloudEvents payloads in, our events out, as Harbor needs
the answers (2xx once stored; a refused event recorded, never a reason to retry)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, Event
from tests.source_samples import (
    HARBOR_DIGEST,
    as_cloudevent,
    digest,
    harbor_push,
    harbor_replication,
    harbor_scan,
    sample,
)

from .conftest import World, fixed_resolver
from .test_notifications_api import assert_quay_error

URL = "/api/v1/sources/harbor"
NOTHING = {"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 0}


async def post(
    client: httpx.AsyncClient, world: World, body: Any, who: str = "service", *, cloudevents: bool = False
) -> httpx.Response:
    content_type = "application/cloudevents+json" if cloudevents else "application/json"
    headers = {**world.headers(who), "Content-Type": content_type}
    return await client.post(URL, content=json.dumps(body), headers=headers)


async def events(database: Database) -> list[Event]:
    async with database.read() as session:
        return list(await session.scalars(select(Event).order_by(Event.id)))


async def rejections(client: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    listing = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
    return list(listing.json()["rejections"])


async def notify(client: httpx.AsyncClient, world: World, event: str, repository: str = "acme/app") -> None:
    hook = {
        "event": event,
        "method": "webhook",
        "config": {"url": "https://receiver.example.com/h"},
        "eventConfig": {},
    }
    created = await client.post(
        f"/api/v1/repository/{repository}/notification/", json=hook, headers=world.headers("admin")
    )
    assert created.status_code == 201, created.text


async def test_tokens(client: httpx.AsyncClient, world: World) -> None:
    body = harbor_push("v1", repository="acme/app")
    assert_quay_error(await post(client, world, body, "anonymous"), 401, "Auth Header", "Bearer")
    assert_quay_error(await post(client, world, body, "revoked"), 401)
    assert_quay_error(await post(client, world, body, "admin"), 403, "source token")
    wrong = await client.post(URL, json=body, headers={"Authorization": "Bearer not-a-token"})
    assert_quay_error(wrong, 401, "invalid or revoked token")


async def test_the_auth_header_may_hold_the_bare_token(client: httpx.AsyncClient, world: World) -> None:
    """Harbor sends the policy's Auth Header verbatim: ``Bearer <token>``, or just the token."""
    response = await client.post(
        URL, json=harbor_push("v1", repository="acme/app"), headers={"Authorization": world.tokens["service"]}
    )
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1


async def test_a_tag_push_becomes_repo_push_and_notifies(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    await notify(client, world, "repo_push")
    response = await post(client, world, harbor_push("v1", repository="acme/app"))
    assert response.status_code == 200, response.text
    assert response.json() == {**NOTHING, "accepted": 1}
    (event,) = await events(database)
    assert (event.kind, event.source) == ("repo_push", "harbor:ci")
    assert event.external_id is not None and event.external_id.startswith("harbor:")
    assert event.payload["updated_tags"] == {"v1": HARBOR_DIGEST}
    async with database.read() as session:
        assert len(list(await session.scalars(select(Delivery)))) == 1


async def test_a_retry_and_the_same_push_again_are_duplicates(
    client: httpx.AsyncClient, world: World
) -> None:
    body = harbor_push("v1", repository="acme/app")
    assert (await post(client, world, body)).json()["accepted"] == 1
    assert (await post(client, world, body)).json() == {**NOTHING, "duplicates": 1}  # the same event id
    again = harbor_push("v1", repository="acme/app", occur_at=1680509999)  # within the window
    assert (await post(client, world, again)).json() == {**NOTHING, "duplicates": 1}
    moved = harbor_push("v1", digest("f"), repository="acme/app", occur_at=1680509999)
    assert (await post(client, world, moved)).json() == {**NOTHING, "accepted": 1}  # the tag moved


async def test_a_multi_arch_push_notifies_once_with_the_index_digest(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    answers = [
        (await post(client, world, harbor_push(None, digest(c), repository="acme/app"))).json() for c in "cd"
    ]
    answers.append((await post(client, world, harbor_push("v2", digest("e"), repository="acme/app"))).json())
    assert answers == [{**NOTHING, "ignored": 1}, {**NOTHING, "ignored": 1}, {**NOTHING, "accepted": 1}]
    (event,) = await events(database)
    assert event.payload["updated_tags"] == {"v2": digest("e")}


async def test_harbors_documented_push_by_digest_is_ignored(client: httpx.AsyncClient, world: World) -> None:
    response = await post(client, world, sample("harbor", "push-artifact.default.json"))
    assert response.json() == {**NOTHING, "ignored": 1}


@pytest.mark.parametrize(
    "name", ["pull-artifact.default.json", "delete-artifact.default.json", "quota-exceed.default.json"]
)
async def test_pulls_deletes_and_quota_are_ignored(
    client: httpx.AsyncClient, world: World, name: str
) -> None:
    response = await post(client, world, sample("harbor", name))
    assert response.status_code == 200 and response.json() == {**NOTHING, "ignored": 1}


async def test_an_unknown_event_type_is_200_ignored(client: httpx.AsyncClient, world: World) -> None:
    body = harbor_push("v1", repository="acme/app")
    body["type"] = "ARTIFACT_SIGNED"
    response = await post(client, world, body)
    assert response.status_code == 200 and response.json() == {**NOTHING, "ignored": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not json", "is not JSON"),
        (b'{"events": []}', "not a Harbor webhook payload"),
        (b"[]", "not a Harbor webhook payload"),
    ],
)
async def test_a_malformed_body_is_a_400(
    client: httpx.AsyncClient, world: World, content: bytes, message: str
) -> None:
    response = await client.post(
        URL, content=content, headers={**world.headers("service"), "Content-Type": "application/json"}
    )
    assert_quay_error(response, 400, message)


async def test_a_refused_event_is_recorded_and_does_not_block_the_next(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    bad = harbor_push("v1", repository="acme/app")
    bad["event_data"]["resources"][0]["digest"] = "sha256:nope"
    assert (await post(client, world, bad)).json() == {**NOTHING, "rejected": 1}
    assert (await post(client, world, harbor_push("v1", repository="acme/app"))).json()["accepted"] == 1
    (refused,) = await rejections(client, world)
    assert refused["source"] == "harbor:ci" and "invalid digest" in refused["reason"]
    assert refused["event_id"].startswith("harbor:") and "sha256:nope" in refused["excerpt"]


async def test_harbors_cloudevents_format(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    event = as_cloudevent(harbor_push("v1", repository="acme/app"), "harbor.artifact.pushed")
    response = await post(client, world, event, cloudevents=True)
    assert response.json() == {**NOTHING, "accepted": 1}, response.text
    assert (await post(client, world, event, cloudevents=True)).json() == {**NOTHING, "duplicates": 1}
    (stored,) = await events(database)
    assert stored.external_id == f"{event['source']} {event['id']}"
    bad = await client.post(
        URL,
        content=b'{"id": 1}',
        headers={**world.headers("service"), "Content-Type": "application/cloudevents+json"},
    )
    assert_quay_error(bad, 400, "specversion")


async def test_a_scan_names_the_tags_pushed_with_its_digest(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """Harbor's scan events name no tag; the scanned digest's tags are the ones last pushed with it."""
    await notify(client, world, "scan_completed")
    assert (await post(client, world, harbor_push("v1", repository="acme/app"))).json()["accepted"] == 1
    scan = harbor_scan({"Critical": 1, "High": 2}, severity="Critical", fixable=1)
    scan["event_data"]["repository"].update(repo_full_name="acme/app", namespace="acme", name="app")
    response = await post(client, world, scan)
    assert response.json() == {**NOTHING, "accepted": 1}, response.text
    assert (await post(client, world, scan)).json() == {**NOTHING, "duplicates": 1}
    stored = (await events(database))[-1]
    assert stored.kind == "scan_completed"
    assert stored.payload["tags"] == ["v1"] and stored.payload["digest"] == HARBOR_DIGEST
    assert (stored.payload["total"], stored.payload["highest_severity"]) == (3, "Critical")
    async with database.read() as session:
        deliveries = list(await session.scalars(select(Delivery).where(Delivery.event_id == stored.id)))
    assert len(deliveries) == 1


async def test_a_failed_scan_and_a_replication(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    failed = harbor_scan(event_type="SCANNING_FAILED")
    assert (await post(client, world, failed)).json() == {**NOTHING, "accepted": 1}
    replicated = await post(client, world, harbor_replication("Error", fail_reason="unauthorized"))
    assert replicated.json() == {**NOTHING, "accepted": 1}
    scan_failed, mirror = await events(database)
    assert (scan_failed.kind, scan_failed.payload["status"], scan_failed.payload["repository"]) == (
        "scan_failed",
        "failed",
        "harbor/alpine",
    )
    assert mirror.kind == "repo_mirror_sync_failed"
    assert mirror.payload["message"] == "'hub.docker.com/library/alpine' with tag pattern '*': unauthorized"


@pytest.fixture
async def hostless_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An application with no REGNOTIFY_REGISTRY_HOST: docker_url takes the sender's host."""
    app = create_app(
        settings.model_copy(update={"registry_host": None}), database=database, resolver=fixed_resolver
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as http:
            yield http


async def test_docker_url_names_the_harbor_host(
    hostless_client: httpx.AsyncClient, world: World, database: Database
) -> None:
    assert (await post(hostless_client, world, harbor_push("v1", repository="acme/app"))).json()[
        "accepted"
    ] == 1
    (event,) = await events(database)
    assert event.payload["docker_url"] == "harbor.example.com/acme/app"
