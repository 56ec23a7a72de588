"""Mirror sync reports become Quay's repo_mirror_sync_* events."""

from __future__ import annotations

import httpx

from .conftest import World
from .test_notifications_api import assert_quay_error

SYNC = "/api/v1/repository/acme/app/mirror/sync"


async def test_each_status_is_its_event(client: httpx.AsyncClient, world: World) -> None:
    body = {"external_reference": "quay.io/coreos/etcd", "tag_pattern": "v3.*"}
    started = await client.post(SYNC, json={**body, "status": "started"}, headers=world.headers("service"))
    assert started.status_code == 201, started.text
    assert started.json()["kind"] == "repo_mirror_sync_started"
    assert started.json()["payload"]["message"] == "'quay.io/coreos/etcd' with tag pattern 'v3.*'"
    failed = await client.post(
        SYNC, json={**body, "status": "failed", "error": "401 from upstream"}, headers=world.headers("writer")
    )
    assert failed.json()["kind"] == "repo_mirror_sync_failed"
    assert failed.json()["payload"]["message"].endswith(": 401 from upstream")
    done = await client.post(SYNC, json={**body, "status": "success"}, headers=world.headers("writer"))
    assert done.json()["kind"] == "repo_mirror_sync_success"


async def test_bad_reports(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers("writer")
    assert_quay_error(
        await client.post(SYNC, json={"status": "paused", "external_reference": "x"}, headers=headers), 400
    )
    assert_quay_error(
        await client.post(SYNC, json={"status": "started"}, headers=headers), 400, "external_reference"
    )
    wrong = {"status": "success", "external_reference": "x", "error": "but it worked"}
    assert_quay_error(await client.post(SYNC, json=wrong, headers=headers), 400, "failed sync only")
    body = {"status": "started", "external_reference": "x"}
    assert_quay_error(await client.post(SYNC, json=body, headers=world.headers("reader")), 403)
