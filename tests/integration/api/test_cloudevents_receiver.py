"""The CloudEvents receiver: zot's binary-mode events, structured and batched events of any sender, and
the webhook abuse-protection handshake."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regnotify.db import Database
from regnotify.db.models import Event
from tests.source_samples import DATA, as_cloudevent, digest, harbor_push, zot_data, zot_headers, zot_scanned

from .conftest import World
from .test_notifications_api import assert_quay_error

URL = "/api/v1/sources/cloudevents"
NOTHING = {"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 0}


async def post_zot(
    client: httpx.AsyncClient, world: World, data: Any, who: str = "service", **headers: Any
) -> httpx.Response:
    return await client.post(
        URL, content=json.dumps(data), headers={**world.headers(who), **zot_headers(**headers)}
    )


async def events(database: Database) -> list[Event]:
    async with database.read() as session:
        return list(await session.scalars(select(Event).order_by(Event.id)))


async def test_tokens(client: httpx.AsyncClient, world: World) -> None:
    assert_quay_error(await post_zot(client, world, zot_data(), "anonymous"), 401, "credentials.token")
    assert_quay_error(await post_zot(client, world, zot_data(), "revoked"), 401)
    assert_quay_error(await post_zot(client, world, zot_data(), "reader"), 403, "source token")


async def test_a_zot_tag_push_becomes_repo_push(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await post_zot(client, world, zot_data("latest", digest("b"), name="acme/app"))
    assert response.status_code == 200, response.text
    assert response.json() == {**NOTHING, "accepted": 1}
    (event,) = await events(database)
    assert (event.kind, event.source) == ("repo_push", "cloudevents:ci")
    assert event.payload["updated_tags"] == {"latest": digest("b")}
    assert event.external_id == "zotregistry.dev 3f1c1e6a-0000-4000-8000-000000000001"


async def test_a_zot_multi_arch_push_notifies_once(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    answers = [
        (await post_zot(client, world, zot_data(digest(c), digest(c), name="acme/app"), event_id=c)).json()
        for c in "cd"
    ]
    answers.append(
        (await post_zot(client, world, zot_data("v2", digest("e"), name="acme/app"), event_id="e")).json()
    )
    assert answers == [{**NOTHING, "ignored": 1}, {**NOTHING, "ignored": 1}, {**NOTHING, "accepted": 1}]
    (event,) = await events(database)
    assert event.payload["updated_tags"] == {"v2": digest("e")}


async def test_a_repeated_event_is_stored_once(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """The same source and id is the same event, even where no window applies (a scan)."""
    scanned = zot_scanned(count=1, highCount=1, maxSeverity="HIGH")
    scanned["name"] = "acme/app"
    first = await post_zot(client, world, scanned, event_type="zotregistry.image.scanned")
    assert first.json() == {**NOTHING, "accepted": 1}, first.text
    again = await post_zot(client, world, scanned, event_type="zotregistry.image.scanned")
    assert again.json() == {**NOTHING, "duplicates": 1}
    other = await post_zot(client, world, scanned, event_type="zotregistry.image.scanned", event_id="another")
    assert other.json() == {**NOTHING, "accepted": 1}
    stored = await events(database)
    assert [e.kind for e in stored] == ["scan_completed", "scan_completed"]
    assert stored[0].payload["highest_severity"] == "High" and stored[0].payload["tags"] == ["latest"]


@pytest.mark.parametrize(
    "event_type", ["zotregistry.image.deleted", "zotregistry.repository.created", "com.example.other"]
)
async def test_other_types_are_200_ignored(client: httpx.AsyncClient, world: World, event_type: str) -> None:
    response = await post_zot(client, world, zot_data(name="acme/app"), event_type=event_type)
    assert response.status_code == 200 and response.json() == {**NOTHING, "ignored": 1}


@pytest.mark.parametrize(
    ("headers", "content", "message"),
    [
        ({"Content-Type": "application/json"}, b'{"name": "acme/app"}', "not a CloudEvent"),
        (zot_headers(), b"{not json", "is not JSON"),
        (
            {"Content-Type": "application/cloudevents+json"},
            b'{"specversion": "1.0"}',
            "id, source, type missing",
        ),
        ({"Content-Type": "application/cloudevents-batch+json"}, b'{"a": 1}', "JSON array"),
    ],
)
async def test_a_request_holding_no_readable_event_is_a_400(
    client: httpx.AsyncClient, world: World, headers: dict[str, str], content: bytes, message: str
) -> None:
    response = await client.post(URL, content=content, headers={**world.headers("service"), **headers})
    assert_quay_error(response, 400, message)


async def test_structured_and_batched_events(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    harbors = as_cloudevent(harbor_push("v1", repository="acme/app"), "harbor.artifact.pushed")
    headers = {**world.headers("service"), "Content-Type": "application/cloudevents+json; charset=utf-8"}
    assert (await client.post(URL, json=harbors, headers=headers)).json() == {**NOTHING, "accepted": 1}
    zots = {
        "specversion": "1.0",
        "id": "z-1",
        "source": "https://zot.example.com",
        "type": "zotregistry.image.updated",
        "data": zot_data("v3", digest("c"), name="acme/app"),
    }
    spec_examples = json.loads((DATA / "cloudevents" / "batch.two-events.json").read_text())
    batch = [zots, {"id": "broken"}, *spec_examples]
    headers["Content-Type"] = "application/cloudevents-batch+json"
    response = await client.post(URL, json=batch, headers=headers)
    assert response.json() == {"accepted": 1, "duplicates": 0, "ignored": 2, "rejected": 1}, response.text
    assert sorted(e.payload["updated_tags"].popitem()[0] for e in await events(database)) == ["v1", "v3"]


async def test_the_abuse_protection_handshake(client: httpx.AsyncClient) -> None:
    """CloudEvents webhook validation: the origin is allowed, with no token needed."""
    answer = await client.options(URL, headers={"WebHook-Request-Origin": "eventemitter.example.com"})
    assert answer.status_code == 200
    assert answer.headers["WebHook-Allowed-Origin"] == "eventemitter.example.com"
    assert answer.headers["WebHook-Allowed-Rate"] == "*"
    assert "POST" in answer.headers["Allow"]
    plain = await client.options(URL)
    assert plain.status_code == 200 and "WebHook-Allowed-Origin" not in plain.headers


async def test_a_scoped_source_cannot_post_elsewhere(client: httpx.AsyncClient, world: World) -> None:
    response = await post_zot(client, world, zot_data(name="globex/app"), "acme_source")
    assert response.json() == {**NOTHING, "rejected": 1}
    listing = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
    (refused,) = listing.json()["rejections"]
    assert refused["source"] == "cloudevents:acme-ci" and "globex" in refused["reason"]
