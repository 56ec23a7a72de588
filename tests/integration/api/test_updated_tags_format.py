"""``UPDATED_TAGS_FORMAT=list`` end to end, and test samples made for the notification's event config.

Events posted through the API, registry pushes and test samples store ``updated_tags`` as the list
of tag names; a worker then delivers exactly that to a real HTTP receiver (plain and templated
webhooks), to the in-app inbox and in mail text. The expiry test sample uses the notification's
``days``.
"""

from __future__ import annotations

import email
import json
import mailbox
from collections.abc import AsyncIterator
from email import policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Event, InboxItem, User
from regnotify.delivery.senders import build_senders
from regnotify.delivery.worker import Worker
from regnotify.runtime.crypto import secret_box

from ..delivery.receiver import Receiver
from ..worker.draining import work_off
from .conftest import World
from .test_registry_receiver import event as registry_event
from .test_registry_receiver import post as post_envelope
from .test_registry_receiver import pushes

REPO = "/api/v1/repository/acme/app"
NOTIFICATIONS = f"{REPO}/notification/"
DIGEST = "sha256:" + "d" * 64
OTHER = "sha256:" + "f" * 64
SAMPLE_TAGS = ["latest"]
TEMPLATE = json.dumps(
    {"tags": "${updated_tags}", "text": "pushed ${updated_tags}", "first": "${updated_tags[0]}"}
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "updated_tags_format": "list",
            "outbound_allowed_networks": ["127.0.0.1/32"],
            "retry_schedule": [0.01],
            "poll_interval": 0.05,
            "http_total_timeout": 5,
        }
    )


@pytest.fixture
async def worker(database: Database, settings: Settings) -> AsyncIterator[Worker]:
    senders = build_senders(settings, database)
    worker = Worker(database, settings, senders, secret_box(settings), name="format-test")
    yield worker
    await worker.finisher.close()
    await senders.close()


async def subscribe(
    client: httpx.AsyncClient,
    world: World,
    method: str,
    config: dict[str, Any],
    *,
    event: str = "repo_push",
    event_config: dict[str, Any] | None = None,
) -> str:
    body = {"event": event, "method": method, "config": config, "eventConfig": event_config or {}}
    response = await client.post(NOTIFICATIONS, json=body, headers=world.headers("admin"))
    assert response.status_code == 201, response.text
    return str(response.json()["uuid"])


async def test_list_format_reaches_every_consumer(
    client: httpx.AsyncClient, world: World, database: Database, worker: Worker, receiver: Receiver
) -> None:
    plain = await subscribe(client, world, "webhook", {"url": f"{receiver.base_url}/plain"})
    await subscribe(client, world, "webhook", {"url": f"{receiver.base_url}/templated", "template": TEMPLATE})
    await subscribe(client, world, "quay_notification", {"target": {"kind": "user", "name": "reader"}})
    await subscribe(client, world, "email", {"email": "ops@example.com"})

    posted = await client.post(
        f"{REPO}/events",
        json={"kind": "repo_push", "data": {"updated_tags": {"v2": DIGEST, "latest": OTHER}}},
        headers=world.headers("service"),
    )
    assert posted.status_code == 201, posted.text
    assert posted.json()["payload"]["updated_tags"] == ["v2", "latest"]
    assert len(posted.json()["deliveries"]) == 4

    tested = await client.post(f"{NOTIFICATIONS}{plain}/test", headers=world.headers("admin"))
    assert tested.status_code == 200, tested.text
    test_delivery = tested.json()["delivery"]["id"]

    # stored: the real event and the test sample, and the events API shows them so
    async with database.read() as session:
        stored = {e.is_test: e.payload for e in await session.scalars(select(Event))}
    assert stored[False]["updated_tags"] == ["v2", "latest"]
    assert stored[True]["updated_tags"] == SAMPLE_TAGS
    listed = await client.get(f"{REPO}/events", headers=world.headers("admin"))  # test events: admins
    assert sorted(e["payload"]["updated_tags"] for e in listed.json()["events"]) == [
        SAMPLE_TAGS,
        ["v2", "latest"],
    ]
    one = await client.get(
        f"{NOTIFICATIONS}{plain}/deliveries/{test_delivery}", headers=world.headers("admin")
    )
    assert one.json()["payload"]["updated_tags"] == SAMPLE_TAGS

    await work_off(worker)

    # as delivered: webhook bodies, a template's ${updated_tags}, the in-app notice, the mail text
    bodies: dict[str, list[Any]] = {}
    for request in receiver.requests:
        bodies.setdefault(request.path, []).append(json.loads(request.body))
    assert sorted(body["updated_tags"] for body in bodies["/plain"]) == [SAMPLE_TAGS, ["v2", "latest"]]
    assert bodies["/templated"] == [
        {"tags": ["v2", "latest"], "text": 'pushed ["v2", "latest"]', "first": "v2"}
    ]

    async with database.read() as session:
        reader = await session.scalar(select(User).where(User.username == "reader"))
        assert reader is not None
        (notice,) = await session.scalars(select(InboxItem).where(InboxItem.user_id == reader.id))
    assert notice.item_metadata["updated_tags"] == ["v2", "latest"]
    inbox = await client.get("/api/v1/user/notifications", headers=world.headers("reader"))
    (item,) = inbox.json()["notifications"]
    assert item["metadata"]["updated_tags"] == ["v2", "latest"]

    (stored_mail,) = list(mailbox.Maildir(worker.settings.data_dir / "maildir", create=False))
    message = email.message_from_bytes(stored_mail.as_bytes(), policy=policy.default)
    assert isinstance(message, EmailMessage)
    plain_part = message.get_body(preferencelist=("plain",))
    assert plain_part is not None
    lines = plain_part.get_content().splitlines()
    assert lines[lines.index("Tags pushed:") + 1 :][:2] == ["  v2", "  latest"]
    assert DIGEST not in plain_part.get_content()


async def test_registry_push_under_list_format(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await post_envelope(client, world, [registry_event(tag="v1")])
    assert response.json()["accepted"] == 1, response.text
    (payload,) = await pushes(database)
    assert payload["updated_tags"] == ["v1"]
    assert payload["docker_url"] == "registry.test:5000/acme/app"


async def test_expiry_test_sample_uses_the_notifications_days(
    client: httpx.AsyncClient, world: World, database: Database, worker: Worker, receiver: Receiver
) -> None:
    uuid = await subscribe(
        client,
        world,
        "webhook",
        {"url": f"{receiver.base_url}/expiry"},
        event="repo_image_expiry",
        event_config={"days": 7},
    )
    tested = await client.post(f"{NOTIFICATIONS}{uuid}/test", headers=world.headers("admin"))
    assert tested.status_code == 200, tested.text
    async with database.read() as session:
        (stored,) = await session.scalars(select(Event))
    assert stored.is_test and stored.payload["expiring_in"] == "7 days"
    assert stored.payload["tags"] == ["latest", "v1"]
    await work_off(worker)
    (request,) = receiver.requests
    assert json.loads(request.body)["expiring_in"] == "7 days"
