"""The delivery log routes and the in-app inbox routes."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from regnotify.db import Database
from regnotify.db.models import Repository, User
from regnotify.db.types import utcnow
from regnotify.delivery.hot_path import claim
from regnotify.delivery.inbox import add_notices
from regnotify.delivery.outcome import finish
from regnotify.delivery.retry import RetryPolicy
from regnotify.methods.sending import SendResult

from .conftest import World
from .test_notifications_api import assert_quay_error

BASE = "/api/v1/repository/acme/app/notification/"
EMAIL = {"event": "repo_push", "method": "email", "config": {"email": "ops@example.com"}, "eventConfig": {}}


async def answer_500_once(database: Database, *, excerpt: str, request: dict[str, str]) -> None:
    """Claim the one queued delivery and record an HTTP 500 answer for it (to be retried)."""
    (claimed,) = await claim(database, limit=5, lease_seconds=30, worker="t")
    result = SendResult(
        ok=False, status_code=500, error="HTTP 500", response_excerpt=excerpt, request=request, duration_ms=12
    )
    await finish(
        database,
        claimed,
        result,
        started_at=utcnow(),
        policy=RetryPolicy([1], 10),
        failure_threshold=10,
        worker="t",
    )


async def failed_test_delivery(
    client: httpx.AsyncClient, world: World, database: Database
) -> tuple[str, str]:
    uuid = (await client.post(BASE, json=EMAIL, headers=world.headers("admin"))).json()["uuid"]
    delivery = (await client.post(f"{BASE}{uuid}/test", headers=world.headers("admin"))).json()["delivery"][
        "id"
    ]
    await answer_500_once(database, excerpt="boom", request={"url": "x"})
    return uuid, delivery


async def test_delivery_log_and_redelivery(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    uuid, delivery = await failed_test_delivery(client, world, database)
    headers = world.headers("admin")
    listed = await client.get(f"{BASE}{uuid}/deliveries", headers=headers)
    assert listed.status_code == 200
    (row,) = listed.json()["deliveries"]
    assert (row["id"], row["state"], row["attempts"], row["last_status_code"]) == (delivery, "failed", 1, 500)
    assert row["is_test"] is True and listed.json()["has_additional"] is False
    assert (await client.get(f"{BASE}{uuid}/deliveries?state=pending", headers=headers)).json()[
        "deliveries"
    ] == []

    one = (await client.get(f"{BASE}{uuid}/deliveries/{delivery}", headers=headers)).json()
    assert one["payload"]["repository"] == "acme/app"
    (attempt,) = one["attempt_log"]
    assert (attempt["number"], attempt["outcome"], attempt["status_code"]) == (1, "failed", 500)
    assert (attempt["response_excerpt"], attempt["duration_ms"]) == ("boom", 12)

    again = await client.post(f"{BASE}{uuid}/deliveries/{delivery}/redeliver", headers=headers)
    assert again.status_code == 202 and again.json()["state"] == "pending"
    assert_quay_error(
        await client.post(f"{BASE}{uuid}/deliveries/{delivery}/redeliver", headers=headers), 409
    )
    (reclaimed,) = await claim(database, limit=5, lease_seconds=30, worker="t")
    assert reclaimed.delivery_uuid == delivery  # the same delivery id goes out again


async def test_deliveries_are_scoped_to_their_notification(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    _, delivery = await failed_test_delivery(client, world, database)
    other = (await client.post(BASE, json=EMAIL, headers=world.headers("admin"))).json()["uuid"]
    headers = world.headers("admin")
    assert_quay_error(await client.get(f"{BASE}{other}/deliveries/{delivery}", headers=headers), 404)
    assert_quay_error(
        await client.post(f"{BASE}{other}/deliveries/{delivery}/redeliver", headers=headers), 404
    )
    assert_quay_error(
        await client.get(f"{BASE}{other}/deliveries?state=bogus", headers=headers), 400, "state"
    )


async def test_inbox_lists_and_dismisses_own_notices(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    async with database.write() as session:
        reader = await session.scalar(select(User).where(User.username == "reader"))
        writer = await session.scalar(select(User).where(User.username == "writer"))
        repo = await session.scalar(select(Repository).where(Repository.name == "app"))
        assert reader and writer and repo
        for index in range(7):
            await add_notices(
                session,
                [reader, writer],
                kind="repo_push",
                metadata={"repository": "acme/app", "n": index},
                repository_id=repo.id,
                delivery_id=None,
                organization_id=repo.organization_id,  # as for an org target
            )
    first = await client.get("/api/v1/user/notifications", headers=world.headers("reader"))
    assert first.status_code == 200
    body = first.json()
    assert len(body["notifications"]) == 5 and body["additional"] is True
    item = body["notifications"][0]
    assert set(item) == {"id", "organization", "kind", "created", "metadata", "dismissed"}
    assert (item["organization"], item["kind"], item["dismissed"]) == ("acme", "repo_push", False)

    dismissed = await client.put(
        f"/api/v1/user/notifications/{item['id']}", json={"dismissed": True}, headers=world.headers("reader")
    )
    assert dismissed.status_code == 200 and dismissed.json()["dismissed"] is True
    remaining = (
        await client.get("/api/v1/user/notifications?limit=50", headers=world.headers("reader"))
    ).json()
    assert (
        item["id"] not in [n["id"] for n in remaining["notifications"]]
        and len(remaining["notifications"]) == 6
    )
    # another user's notice is not yours to dismiss, and theirs are untouched
    foreign = await client.put(
        f"/api/v1/user/notifications/{item['id']}", json={"dismissed": True}, headers=world.headers("writer")
    )
    assert_quay_error(foreign, 404)
    theirs = (await client.get("/api/v1/user/notifications?limit=50", headers=world.headers("writer"))).json()
    assert len(theirs["notifications"]) == 7
