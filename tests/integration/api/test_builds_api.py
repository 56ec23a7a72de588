"""Build reports: each transition stores the seed's event; wrong transitions are 409s."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from regnotify.db import Database
from regnotify.db.models import Event

from .conftest import World
from .test_notifications_api import assert_quay_error

BUILDS = "/api/v1/repository/acme/app/builds"
TRIGGER = {
    "default_branch": "main",
    "ref": "refs/heads/main",
    "commit": "42d4a62c53350993ea41069e9f2cfdefb0df097d",
    "commit_info": {
        "url": "https://git.example.com/c/42d4a62",
        "message": "Fix <things>",
        "date": 2395748365,
    },
}
DIGEST = "sha256:" + "f" * 64


async def events(database: Database) -> list[tuple[str, dict[str, Any]]]:
    async with database.read() as session:
        return [(e.kind, e.payload) for e in await session.scalars(select(Event).order_by(Event.id))]


async def queue(client: httpx.AsyncClient, world: World, who: str = "writer") -> httpx.Response:
    body = {
        "docker_tags": ["latest", "v1"],
        "is_manual": False,
        "trigger_kind": "github",
        "trigger_id": "t-1",
        "trigger_metadata": TRIGGER,
    }
    return await client.post(BUILDS, json=body, headers=world.headers(who))


async def test_a_build_from_queue_to_success(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    queued = await queue(client, world)
    assert queued.status_code == 201, queued.text
    build = queued.json()
    build_id = build["id"]
    assert build["phase"] == "queued" and build["homepage"].endswith(f"/build?current={build_id}")
    for phase, extra in (("started", {}), ("success", {"image_id": "img1", "manifest_digests": [DIGEST]})):
        moved = await client.post(
            f"{BUILDS}/{build_id}/phase", json={"phase": phase, **extra}, headers=world.headers("service")
        )
        assert moved.status_code == 200, moved.text
        assert moved.json()["phase"] == phase
    stored = await events(database)
    assert [kind for kind, _ in stored] == [
        "build_queued",
        "build_start",
        "build_success",
        "repo_push",
        "repo_push",
    ]
    queued_payload = stored[0][1]
    assert list(queued_payload) == [
        "repository",
        "namespace",
        "name",
        "docker_url",
        "homepage",
        "is_manual",
        "build_id",
        "docker_tags",
        "trigger_kind",
        "trigger_id",
        "trigger_metadata",
    ]
    assert (
        queued_payload["homepage"] == f"https://regnotify.test/repository/acme/app/build?current={build_id}"
    )
    success = stored[2][1]
    assert success["build_id"] == build_id and success["trigger_metadata"]["ref"] == "refs/heads/main"
    assert success["manifest_digests"] == [DIGEST] and success["visibility"] == "private"
    assert {next(iter(p["updated_tags"].items())) for _, p in stored[3:]} == {
        ("latest", DIGEST),
        ("v1", DIGEST),
    }
    shown = await client.get(f"{BUILDS}/{build_id}", headers=world.headers("reader"))
    assert shown.json()["phase"] == "success"
    listed = await client.get(BUILDS, headers=world.headers("reader"))
    assert [b["id"] for b in listed.json()["builds"]] == [build_id]


async def test_failure_carries_its_error(client: httpx.AsyncClient, world: World, database: Database) -> None:
    build_id = (await queue(client, world)).json()["id"]
    await client.post(
        f"{BUILDS}/{build_id}/phase", json={"phase": "started"}, headers=world.headers("writer")
    )
    missing = await client.post(
        f"{BUILDS}/{build_id}/phase", json={"phase": "failure"}, headers=world.headers("writer")
    )
    assert_quay_error(missing, 400, "error_message")
    failed = await client.post(
        f"{BUILDS}/{build_id}/phase",
        json={"phase": "failure", "error_message": "step 3 failed"},
        headers=world.headers("writer"),
    )
    assert failed.status_code == 200
    kind, payload = (await events(database))[-1]
    assert kind == "build_failure" and payload["error_message"] == "step 3 failed"


async def test_transitions(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers("writer")
    build_id = (await queue(client, world)).json()["id"]
    assert_quay_error(
        await client.post(f"{BUILDS}/{build_id}/phase", json={"phase": "success"}, headers=headers),
        409,
        "queued",
    )
    assert (
        await client.post(f"{BUILDS}/{build_id}/phase", json={"phase": "cancelled"}, headers=headers)
    ).status_code == 200
    assert_quay_error(
        await client.post(f"{BUILDS}/{build_id}/phase", json={"phase": "started"}, headers=headers),
        409,
        "finished",
    )
    assert_quay_error(
        await client.post(f"{BUILDS}/{build_id}/phase", json={"phase": "exploded"}, headers=headers),
        400,
        "phase",
    )
    assert_quay_error(
        await client.post(f"{BUILDS}/nope/phase", json={"phase": "started"}, headers=headers), 404
    )
    other = await client.post(
        f"/api/v1/repository/acme/other/builds/{build_id}/phase",
        json={"phase": "started"},
        headers=world.headers("superuser"),
    )
    assert_quay_error(other, 404)  # a build id is looked up within its repository


async def test_permissions_and_bad_input(client: httpx.AsyncClient, world: World) -> None:
    assert_quay_error(await queue(client, world, who="reader"), 403)
    assert_quay_error(await queue(client, world, who="anonymous"), 401)
    assert (await queue(client, world, who="service")).status_code == 201
    bad = await client.post(BUILDS, json={"docker_tags": "latest"}, headers=world.headers("writer"))
    assert_quay_error(bad, 400, "docker_tags")
    assert_quay_error(await client.get(BUILDS, headers=world.headers("noaccess")), 403)
