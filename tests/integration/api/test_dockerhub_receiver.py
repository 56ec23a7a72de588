"""The Docker Hub receiver: the token in the path, pushes with no digest, deduplicated without one."""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from regnotify.db import Database
from regnotify.db.models import Event, TagPush
from regnotify.db.types import utcnow
from tests.source_samples import dockerhub_push

from .conftest import World
from .test_notifications_api import assert_quay_error

NOTHING = {"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 0}


def url(world: World, who: str = "service") -> str:
    return f"/api/v1/sources/dockerhub/{world.tokens[who]}"


async def events(database: Database) -> list[Event]:
    async with database.read() as session:
        return list(await session.scalars(select(Event).order_by(Event.id)))


async def test_the_token_in_the_path(client: httpx.AsyncClient, world: World) -> None:
    body = dockerhub_push(repository="acme/app")
    wrong = await client.post("/api/v1/sources/dockerhub/not-a-token", json=body)
    assert_quay_error(wrong, 401, "invalid or revoked token")
    assert "not-a-token" not in wrong.text
    assert_quay_error(await client.post(url(world, "revoked"), json=body), 401)
    assert_quay_error(await client.post(url(world, "writer"), json=body), 403, "source token")
    missing = await client.post("/api/v1/sources/dockerhub/", json=body)
    assert missing.status_code in (404, 405)


async def test_a_push_is_repo_push_that_names_no_digest(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await client.post(url(world), json=dockerhub_push("latest", repository="acme/app"))
    assert response.status_code == 200, response.text
    assert response.json() == {**NOTHING, "accepted": 1}
    (event,) = await events(database)
    assert (event.kind, event.source) == ("repo_push", "dockerhub:ci")
    assert event.payload["updated_tags"] == {"latest": None}  # Docker Hub sends no digest: none is invented
    assert event.external_id is not None and event.external_id.startswith("dockerhub:")
    async with database.read() as session:
        (row,) = await session.scalars(select(TagPush))
    assert (row.tag, row.digest) == ("latest", "")  # "digest unknown", never a digest


async def test_repeats_are_deduplicated_without_a_digest(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """A resent delivery (the same id), and the deliveries of one multi-arch push (the same tag
    within the window), notify once; a push after the window notifies again."""
    first = dockerhub_push(repository="acme/app")
    assert (await client.post(url(world), json=first)).json()["accepted"] == 1
    assert (await client.post(url(world), json=first)).json() == {**NOTHING, "duplicates": 1}
    burst = dockerhub_push(repository="acme/app", pushed_at=first["push_data"]["pushed_at"] + 2)
    assert (await client.post(url(world), json=burst)).json() == {**NOTHING, "duplicates": 1}
    other_tag = dockerhub_push("v2", repository="acme/app")
    assert (await client.post(url(world), json=other_tag)).json()["accepted"] == 1
    async with database.write() as session:  # the window passes
        await session.execute(update(TagPush).values(notified_at=utcnow() - timedelta(hours=1)))
    later = dockerhub_push(repository="acme/app", pushed_at=first["push_data"]["pushed_at"] + 7200)
    assert (await client.post(url(world), json=later)).json()["accepted"] == 1
    assert len(await events(database)) == 3


async def test_a_digestless_push_and_a_push_with_a_digest_are_told_apart(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """The same tag reported by a registry with its digest after a Docker Hub push is a new digest."""
    assert (await client.post(url(world), json=dockerhub_push(repository="acme/app"))).json()["accepted"] == 1
    envelope = {
        "events": [
            {
                "id": "e-1",
                "action": "push",
                "target": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "repository": "acme/app",
                    "tag": "latest",
                    "digest": "sha256:" + "a" * 64,
                },
            }
        ]
    }
    response = await client.post("/api/v1/registry/events", json=envelope, headers=world.headers("service"))
    assert response.json()["accepted"] == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not json", "is not JSON"), (b'{"events": []}', "not a Docker Hub webhook payload")],
)
async def test_a_malformed_body_is_a_400(
    client: httpx.AsyncClient, world: World, content: bytes, message: str
) -> None:
    response = await client.post(url(world), content=content, headers={"Content-Type": "application/json"})
    assert_quay_error(response, 400, message)


async def test_a_push_without_a_tag_is_ignored(client: httpx.AsyncClient, world: World) -> None:
    body = dockerhub_push(repository="acme/app")
    del body["push_data"]["tag"]
    assert (await client.post(url(world), json=body)).json() == {**NOTHING, "ignored": 1}


async def test_no_log_line_holds_the_token(
    client: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    bad = dockerhub_push(repository="acme/app")
    bad["push_data"]["tag"] = "bad tag!"
    with caplog.at_level(logging.DEBUG):
        assert (await client.post(url(world), json=bad)).json() == {**NOTHING, "rejected": 1}
        await client.post(url(world), json=dockerhub_push(repository="acme/app"))
    ours = [record.getMessage() for record in caplog.records if record.name.startswith("regnotify")]
    assert any("dockerhub event" in line for line in ours)  # the refused event was logged
    assert not [
        line for line in ours if world.tokens["service"] in line
    ]  # (httpx, the test's client, logs it)
    listing = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
    assert world.tokens["service"] not in listing.text and "invalid tag" in listing.text
