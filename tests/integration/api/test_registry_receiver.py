"""The registry receiver with Distribution's envelopes: what notifies, what is ignored, what is refused."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update

from regnotify.db import Database
from regnotify.db.models import Delivery, Event, Notification, Organization, Repository, TagPush
from regnotify.db.types import utcnow

from .conftest import World
from .test_notifications_api import assert_quay_error

URL = "/api/v1/registry/events"
MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def digest(char: str) -> str:
    return "sha256:" + char * 64


def event(
    action: str = "push",
    *,
    repository: str = "acme/app",
    tag: str | None = "v1",
    media_type: str = OCI_MANIFEST,
    target_digest: str = digest("a"),
    event_id: str | None = None,
) -> dict[str, Any]:
    target: dict[str, Any] = {
        "mediaType": media_type,
        "size": 528,
        "digest": target_digest,
        "length": 528,
        "repository": repository,
        "url": f"http://127.0.0.1:5000/v2/{repository}/manifests/{target_digest}",
    }
    if tag is not None:
        target["tag"] = tag
    return {
        "id": event_id or str(uuid.uuid4()),
        "timestamp": "2026-11-28T12:00:00.000000000Z",
        "action": action,
        "target": target,
        "request": {
            "id": "r1",
            "addr": "127.0.0.1:40000",
            "host": "127.0.0.1:5000",
            "method": "PUT",
            "useragent": "skopeo/1.9.3",
        },
        "actor": {},
        "source": {"addr": "host:5000", "instanceID": "abc"},
        "unknownField": {"ignored": True},
    }


async def post(client: httpx.AsyncClient, world: World, events: Any, who: str = "service") -> httpx.Response:
    body = events if not isinstance(events, list) else {"events": events}
    return await client.post(URL, json=body, headers={**world.headers(who), "Content-Type": MEDIA_TYPE})


async def pushes(database: Database) -> list[dict[str, Any]]:
    async with database.read() as session:
        return [e.payload for e in await session.scalars(select(Event).order_by(Event.id))]


async def test_tokens(client: httpx.AsyncClient, world: World) -> None:
    assert_quay_error(await post(client, world, [event()], who="anonymous"), 401, "source create")
    assert_quay_error(await post(client, world, [event()], who="revoked"), 401)
    assert_quay_error(await post(client, world, [event()], who="admin"), 403, "source token")


async def test_a_tag_push_becomes_repo_push_and_matches(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    hook = {
        "event": "repo_push",
        "method": "webhook",
        "config": {"url": "https://receiver.example.com/h"},
        "eventConfig": {},
    }
    created = await client.post(
        "/api/v1/repository/acme/app/notification/", json=hook, headers=world.headers("admin")
    )
    assert created.status_code == 201
    response = await post(client, world, [event(tag="v1")])
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "ignored": 0, "rejected": 0}
    (payload,) = await pushes(database)
    assert payload == {
        "repository": "acme/app",
        "namespace": "acme",
        "name": "app",
        "docker_url": "registry.test:5000/acme/app",
        "homepage": "https://regnotify.test/repository/acme/app",
        "updated_tags": {"v1": digest("a")},
    }
    listed = await client.get(
        f"/api/v1/repository/acme/app/notification/{created.json()['uuid']}/deliveries",
        headers=world.headers("admin"),
    )
    assert len(listed.json()["deliveries"]) == 1


async def test_what_is_ignored_and_what_is_rejected(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    envelope = [
        event(tag="v1"),
        event(media_type="application/vnd.oci.image.layer.v1.tar+gzip", tag=None),  # blob push
        event(action="pull"),
        event(action="mount", tag=None),
        event(action="delete", tag=None),
        event(tag=None, target_digest=digest("b")),  # manifest by digest
        event(tag="v2", target_digest="sha256:nope"),  # unusable
        event(tag="bad tag!"),
        event(repository="Not/Valid", tag="v1"),
        "not an object",
    ]
    response = await post(client, world, envelope)
    assert response.status_code == 200
    assert response.json() == {"accepted": 1, "duplicates": 0, "ignored": 5, "rejected": 4}
    listing = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
    reasons = [r["reason"] for r in listing.json()["rejections"]]
    assert (
        len(reasons) == 4
        and any("invalid digest" in r for r in reasons)
        and any("Not/Valid" in r for r in reasons)
    )
    assert_quay_error(await client.get("/api/v1/registry/rejections", headers=world.headers("admin")), 403)


async def test_bodies_that_are_not_envelopes(client: httpx.AsyncClient, world: World) -> None:
    garbage = await client.post(
        URL, content=b"\x00not json", headers={**world.headers("service"), "Content-Type": MEDIA_TYPE}
    )
    assert_quay_error(garbage, 400, "not JSON")
    odd = await post(client, world, {"something": "else"})
    assert odd.status_code == 200 and odd.json()["rejected"] == 1
    single = await post(client, world, event(tag="solo"))  # one event per body (Distribution 3)
    assert single.status_code == 200 and single.json()["accepted"] == 1


async def test_retries_and_unchanged_repushes_notify_once(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    first = event(tag="v1")
    assert (await post(client, world, [first])).json()["accepted"] == 1
    assert (await post(client, world, [first])).json()["duplicates"] == 1  # the registry retried
    repush = event(tag="v1")  # an unchanged re-push: new event id, same tag and digest
    assert (await post(client, world, [repush])).json()["duplicates"] == 1
    moved = event(tag="v1", target_digest=digest("c"))
    assert (await post(client, world, [moved])).json()["accepted"] == 1
    async with database.write() as session:  # the window passes
        await session.execute(update(TagPush).values(notified_at=utcnow() - timedelta(hours=1)))
    assert (await post(client, world, [event(tag="v1", target_digest=digest("c"))])).json()["accepted"] == 1
    assert [p["updated_tags"]["v1"] for p in await pushes(database)] == [
        digest("a"),
        digest("c"),
        digest("c"),
    ]


async def test_multi_arch_push_notifies_once_with_the_index(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    envelope = [
        event(tag=None, target_digest=digest("1")),
        event(tag=None, target_digest=digest("2")),
        event(tag="latest", media_type=OCI_INDEX, target_digest=digest("9")),
    ]
    assert (await post(client, world, envelope)).json() == {
        "accepted": 1,
        "duplicates": 0,
        "ignored": 2,
        "rejected": 0,
    }
    (payload,) = await pushes(database)
    assert payload["updated_tags"] == {"latest": digest("9")}


async def test_unknown_namespace_becomes_an_organization_only_superusers_administer(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await post(client, world, [event(repository="newteam/tools/app", tag="1.0")])
    assert response.json()["accepted"] == 1
    async with database.read() as session:
        repo = await session.scalar(select(Repository).where(Repository.namespace == "newteam"))
    assert repo is not None and repo.name == "tools/app" and repo.organization_id is not None
    path = "/api/v1/repository/newteam/tools/app/notification/"
    assert (await client.get(path, headers=world.headers("superuser"))).status_code == 200
    assert_quay_error(await client.get(path, headers=world.headers("admin")), 403)
    (payload,) = await pushes(database)
    assert (payload["namespace"], payload["name"]) == ("newteam", "tools/app")


def batch_count() -> float:
    return REGISTRY.get_sample_value("regnotify_group_commit_batch_size_count") or 0.0


async def test_concurrent_envelopes_share_transactions_and_each_is_matched(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """Envelopes posted at once are stored in shared transactions (group commit): each event still
    gets exactly the deliveries its filter allows, a new namespace is made once, and repeats of an
    event id inside one batch count as duplicates."""
    for pattern in ("v*", "x*"):
        hook = {
            "event": "repo_push",
            "method": "webhook",
            "config": {"url": "https://receiver.example.com/h"},
            "eventConfig": {"tag-patterns": [pattern]},
        }
        assert (
            await client.post(
                "/api/v1/repository/acme/app/notification/", json=hook, headers=world.headers("admin")
            )
        ).status_code == 201
    envelopes = [[event(tag=f"v{n}", target_digest=digest("b"))] for n in range(12)]
    envelopes += [[event(tag=f"x{n}", target_digest=digest("c"))] for n in range(12)]
    envelopes += [[event(repository="brandnew/app", tag=f"t{n}")] for n in range(6)]
    envelopes += [[event(tag="dup", target_digest=digest("d"), event_id="same-id")] for _ in range(3)]
    batches_before = batch_count()
    answers = await asyncio.gather(*(post(client, world, envelope) for envelope in envelopes))
    assert all(answer.status_code == 200 for answer in answers)
    assert batch_count() - batches_before < len(envelopes)  # some shared a transaction
    assert sum(answer.json()["accepted"] for answer in answers) == 12 + 12 + 6 + 1
    assert sum(answer.json()["duplicates"] for answer in answers) == 2

    async with database.read() as session:
        rows = (
            await session.execute(
                select(Event.payload, Notification.event_config)
                .join(Delivery, Delivery.event_id == Event.id)
                .join(Notification, Notification.id == Delivery.notification_id)
            )
        ).all()
        brandnew = await session.scalar(
            select(func.count()).select_from(Organization).where(Organization.name == "brandnew")
        )
    matched = sorted(
        (next(iter(payload["updated_tags"]))[0], config["tag-patterns"][0]) for payload, config in rows
    )
    assert matched == sorted([("v", "v*")] * 12 + [("x", "x*")] * 12)
    assert brandnew == 1


async def test_a_refused_event_moves_no_push_window(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """An event refused for reusing another event's id changes nothing: the real push that follows
    notifies. Before, the refused event had already recorded its tag → digest, so the real push of
    the tag was counted a duplicate and nobody was notified."""
    hook = {"event": "repo_push", "method": "webhook", "config": {"url": "https://receiver.example.com/h"}}
    created = await client.post(
        "/api/v1/repository/acme/app/notification/", json=hook, headers=world.headers("admin")
    )
    assert created.status_code == 201
    receipt = {"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 0}

    async def answer(*events: dict[str, Any]) -> dict[str, int]:
        response = await post(client, world, list(events))
        assert response.status_code == 200, response.text
        return dict(response.json())

    assert await answer(event(tag="w1", event_id="R1")) == {**receipt, "accepted": 1}
    # a new tag, reusing R1: refused, and the tag's first push is still to come
    assert await answer(event(tag="w2", event_id="R1")) == {**receipt, "rejected": 1}
    async with database.read() as session:
        assert await session.scalar(select(TagPush.tag).where(TagPush.tag == "w2")) is None
    assert await answer(event(tag="w2", event_id="R2")) == {**receipt, "accepted": 1}
    # a tag seen before, to a new digest, reusing R1: refused; the tag still points where it did
    assert await answer(event(tag="w1", target_digest=digest("b"), event_id="R1")) == {
        **receipt,
        "rejected": 1,
    }
    assert await answer(event(tag="w1", event_id="R3")) == {**receipt, "duplicates": 1}  # unchanged
    assert await answer(event(tag="w1", target_digest=digest("b"), event_id="R4")) == {
        **receipt,
        "accepted": 1,
    }
    # the same within one envelope: the refused event, then the real one
    assert await answer(event(tag="w3", event_id="R2"), event(tag="w3", event_id="R5")) == {
        **receipt,
        "accepted": 1,
        "rejected": 1,
    }
    assert [(next(iter(p["updated_tags"].items()))) for p in await pushes(database)] == [
        ("w1", digest("a")),
        ("w2", digest("a")),
        ("w1", digest("b")),
        ("w3", digest("a")),
    ]
    listed = await client.get(
        f"/api/v1/repository/acme/app/notification/{created.json()['uuid']}/deliveries",
        headers=world.headers("admin"),
    )
    assert len(listed.json()["deliveries"]) == 4
