"""What every source's receiver shares (api/source_intake.py), seen through the Harbor and CloudEvents
receivers: namespaces and their limit for events of every kind, repositories made on a first event
of any kind, refusals recorded one by one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regnotify import accounts
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import ApiToken, Event, Organization
from tests.source_samples import digest, harbor_scan, zot_data

from .conftest import World, fixed_resolver

NOTHING = {"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 0}


def scan_of(repository: str, **changes: Any) -> dict[str, Any]:
    body = harbor_scan({"High": 1}, severity="High", **changes)
    namespace, name = repository.split("/", 1)
    body["event_data"]["repository"].update(repo_full_name=repository, namespace=namespace, name=name)
    return body


async def post(client: httpx.AsyncClient, token: str, body: Any) -> httpx.Response:
    return await client.post(
        "/api/v1/sources/harbor", json=body, headers={"Authorization": f"Bearer {token}"}
    )


async def rejections(client: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    listing = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
    return list(listing.json()["rejections"])


async def test_a_first_event_of_any_kind_makes_its_repository(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """A scan can arrive before the push it scanned (a source's events are not ordered): it makes the
    repository, and its namespace as the source's organization, as a push does."""
    response = await post(client, world.tokens["service"], scan_of("newco/app"))
    assert response.json() == {**NOTHING, "accepted": 1}, response.text
    async with database.read() as session:
        repository = await accounts.find_repository(session, "newco/app")
        assert repository is not None
        organization = await session.scalar(select(Organization).where(Organization.name == "newco"))
        token_id = await session.scalar(select(ApiToken.id).where(ApiToken.name == "ci"))
        (event,) = await session.scalars(select(Event))
    assert organization is not None and organization.created_by_token_id == token_id
    assert (event.kind, event.repository_id, event.payload["tags"]) == ("scan_completed", repository.id, [])


async def test_events_outside_a_scoped_tokens_namespaces_are_refused(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await post(client, world.tokens["acme_source"], scan_of("globex/app"))
    assert response.json() == {**NOTHING, "rejected": 1}
    (refused,) = await rejections(client, world)
    assert refused["source"] == "harbor:acme-ci" and "may post to" in refused["reason"]
    assert "globex/app" in refused["excerpt"]
    assert (await post(client, world.tokens["acme_source"], scan_of("acme/app"))).json()["accepted"] == 1


@pytest.fixture
async def stingy_client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """An application whose sources may create no namespace."""
    app = create_app(
        settings.model_copy(update={"source_max_new_namespaces": 0}),
        database=database,
        resolver=fixed_resolver,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as http:
            yield http


async def test_events_count_against_the_namespace_limit(
    stingy_client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await post(stingy_client, world.tokens["service"], scan_of("newco/app"))
    assert response.json() == {**NOTHING, "rejected": 1}
    (refused,) = await rejections(stingy_client, world)
    assert "REGNOTIFY_SOURCE_MAX_NEW_NAMESPACES=0" in refused["reason"]
    assert (await post(stingy_client, world.tokens["service"], scan_of("acme/app"))).json()["accepted"] == 1


async def test_an_event_its_kind_refuses_is_recorded_and_the_rest_stored(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """In one request (a CloudEvents batch): a scan whose counts the kind refuses, and a push."""
    bad = scan_of("acme/app")
    bad["event_data"]["resources"][0]["scan_overview"][
        "application/vnd.security.vulnerability.report; version=1.1"
    ]["summary"]["summary"] = {"High": -1}
    batch = [
        {
            "specversion": "1.0",
            "id": "1",
            "source": "/projects/1/webhook/policies/1",
            "type": "harbor.scan.completed",
            "data": bad["event_data"],
        },
        {
            "specversion": "1.0",
            "id": "2",
            "source": "zotregistry.dev",
            "type": "zotregistry.image.updated",
            "data": zot_data("v1", digest("a"), name="acme/app"),
        },
    ]
    response = await client.post(
        "/api/v1/sources/cloudevents",
        content=json.dumps(batch),
        headers={**world.headers("service"), "Content-Type": "application/cloudevents-batch+json"},
    )
    assert response.json() == {**NOTHING, "accepted": 1, "rejected": 1}, response.text
    (refused,) = await rejections(client, world)
    assert refused["event_id"] == "/projects/1/webhook/policies/1 1" and "counts" in refused["reason"]
    async with database.read() as session:
        assert [e.kind for e in await session.scalars(select(Event))] == ["repo_push"]


async def test_an_event_id_reused_for_another_event_is_refused(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    first = {
        "specversion": "1.0",
        "id": "same",
        "source": "/p",
        "type": "harbor.scan.completed",
        "data": scan_of("acme/app")["event_data"],
    }
    headers = {**world.headers("service"), "Content-Type": "application/cloudevents+json"}
    assert (await client.post("/api/v1/sources/cloudevents", json=first, headers=headers)).json()[
        "accepted"
    ] == 1
    other = json.loads(json.dumps(first))
    other["data"]["resources"][0]["digest"] = digest("f")
    response = await client.post("/api/v1/sources/cloudevents", json=other, headers=headers)
    assert response.json() == {**NOTHING, "rejected": 1}
    (refused,) = await rejections(client, world)
    assert "already used for a different event" in refused["reason"]


async def test_text_a_database_cannot_store_is_refused_not_a_500(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """NUL characters (PostgreSQL stores none) and lone surrogates in any field a source sends."""
    bodies = []
    for field, value in (("tag", "v1\x00"), ("digest", "sha256:" + "a" * 63 + "\x00"), ("tag", "v\ud800")):
        body = scan_of("acme/app")
        body["type"] = "PUSH_ARTIFACT"
        body["event_data"]["resources"][0].update(tag="v1", digest=digest("a"))
        body["event_data"]["resources"][0][field] = value
        bodies.append(body)
    named = scan_of("acme/app")
    named["event_data"]["repository"]["repo_full_name"] = "acme/ap\x00p"
    bodies.append(named)
    for body in bodies:
        raw = json.dumps(body).encode()  # \u0000 and \ud800 escapes, as a sender writes them
        response = await client.post(
            "/api/v1/sources/harbor",
            content=raw,
            headers={**world.headers("service"), "Content-Type": "application/json"},
        )
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 0
    assert len(await rejections(client, world)) == 4
    async with database.read() as session:
        assert list(await session.scalars(select(Event))) == []
