"""Behaviour that once differed from Quay's and now matches it: each test names what Quay does."""

from __future__ import annotations

import uuid as uuids
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from regnotify import accounts
from regnotify.db import Database
from regnotify.db.models import Delivery, Event, Notification, NotificationChange, Repository, User
from regnotify.db.types import utcnow
from regnotify.delivery.inbox import DatabaseInbox, add_notices
from regnotify.ingest.vulnerabilities import record_finding
from regnotify.methods.sending import Message, Outgoing

from .conftest import World
from .test_notifications_api import BASE, assert_quay_error, create

NOTICES = "/api/v1/user/notifications"
REPO = "/api/v1/repository/acme/app"
EMAIL = {"event": "repo_push", "method": "email", "config": {"email": "ops@example.com"}}
DIGEST = "sha256:" + "c" * 64


async def seed_notices(database: Database, username: str, count: int) -> None:
    async with database.write() as session:
        user = await session.scalar(select(User).where(User.username == username))
        repo = await session.scalar(select(Repository).where(Repository.name == "app"))
        assert user and repo
        for index in range(count):
            await add_notices(
                session,
                [user],
                kind="repo_push",
                metadata={"repository": "acme/app", "n": index},
                repository_id=repo.id,
                delivery_id=None,
            )


# -- 1. the inbox's page 0 -----------------------------------------------------------------------


async def test_inbox_page_zero_is_the_first_page(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """Quay's default page is 0, and peewee's paginate reads pages 0 and 1 both as the first."""
    await seed_notices(database, "reader", 3)
    headers = world.headers("reader")
    pages = {}
    for page in ("0", "1"):
        response = await client.get(NOTICES, params={"page": page, "limit": 2}, headers=headers)
        assert response.status_code == 200, response.text
        pages[page] = response.json()
    assert pages["0"] == pages["1"]
    assert len(pages["0"]["notifications"]) == 2 and pages["0"]["additional"] is True
    second = (await client.get(NOTICES, params={"page": 2, "limit": 2}, headers=headers)).json()
    assert len(second["notifications"]) == 1 and second["additional"] is False
    for bad in ("-1", "10001"):
        assert_quay_error(await client.get(NOTICES, params={"page": bad}, headers=headers), 400, "page")


# -- 2. a notice's organization ------------------------------------------------------------------


def outgoing(notification_uuid: str, tag: str = "v1") -> Outgoing:
    payload = {"repository": "acme/app", "namespace": "acme", "name": "app", "updated_tags": [tag]}
    return Outgoing(
        delivery_id=str(uuids.uuid4()),
        attempt=1,
        event="repo_push",
        payload=payload,
        message=Message("repo_push", payload),
        repository="acme/app",
        namespace="acme",
        notification_uuid=notification_uuid,
        notification_title=None,
    )


async def test_notice_organization_is_set_for_org_targets_only(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """Quay fills a notice's organization only when the target is an organization (kind org)."""
    async with database.write() as session:
        team = await accounts.create_team(session, "acme", "readers")
        reader = await session.scalar(select(User).where(User.username == "reader"))
        org_admin = await session.scalar(select(User).where(User.username == "org_admin"))
        assert reader and org_admin
        await accounts.add_team_member(session, team, reader)
        await accounts.add_team_member(session, team, org_admin)
    inbox = DatabaseInbox(database)
    targets = {"user": ("user", "reader"), "team": ("team", "readers"), "org": ("org", "acme")}
    for label, (kind, name) in targets.items():
        assert await inbox.notify(target_kind=kind, target_name=name, outgoing=outgoing(label, label)) >= 1

    async def organizations(who: str) -> dict[str, str | None]:
        response = await client.get(NOTICES, params={"limit": 50}, headers=world.headers(who))
        assert response.status_code == 200, response.text
        notices = response.json()["notifications"]
        return {n["metadata"]["updated_tags"][0]: n["organization"] for n in notices}

    assert await organizations("reader") == {"user": None, "team": None}
    assert await organizations("org_admin") == {"team": None, "org": "acme"}


async def test_notices_without_a_target_have_no_organization(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """Notices stored without an organization (our own, and those from before) show null."""
    await seed_notices(database, "reader", 1)
    (item,) = (await client.get(NOTICES, headers=world.headers("reader"))).json()["notifications"]
    assert item["organization"] is None


# -- 3. one notice -------------------------------------------------------------------------------


async def test_get_one_notice(client: httpx.AsyncClient, world: World, database: Database) -> None:
    """Quay's getUserNotification: the caller's own notice; anyone else's is a 404."""
    await seed_notices(database, "reader", 2)
    await seed_notices(database, "writer", 1)
    listed = (await client.get(NOTICES, headers=world.headers("reader"))).json()["notifications"]
    mine = listed[1]
    response = await client.get(f"{NOTICES}/{mine['id']}", headers=world.headers("reader"))
    assert response.status_code == 200, response.text
    assert response.json() == mine
    assert_quay_error(await client.get(f"{NOTICES}/{mine['id']}", headers=world.headers("writer")), 404)
    assert_quay_error(await client.get(f"{NOTICES}/no-such-notice", headers=world.headers("reader")), 404)
    assert_quay_error(await client.get(f"{NOTICES}/{mine['id']}"), 401)
    assert_quay_error(await client.get(f"{NOTICES}/{mine['id']}", headers=world.headers("service")), 403)
    # a dismissed notice is still yours to read
    await client.put(f"{NOTICES}/{mine['id']}", json={"dismissed": True}, headers=world.headers("reader"))
    again = await client.get(f"{NOTICES}/{mine['id']}", headers=world.headers("reader"))
    assert again.status_code == 200 and again.json()["dismissed"] is True


# -- 4. vulnerable_index_report_created as Quay's security worker sends it -------------------------


async def post_vulnerability(client: httpx.AsyncClient, world: World, flag: Any) -> httpx.Response:
    data = {
        "tags": ["latest"],
        "vulnerability": {"id": "CVE-1", "priority": "Low"},
        "vulnerable_index_report_created": flag,
    }
    return await client.post(
        f"{REPO}/events", json={"kind": "vulnerability_found", "data": data}, headers=world.headers("writer")
    )


@pytest.mark.parametrize("value", ["true", "TRUE", "false", "False", True, False])
async def test_vulnerability_event_takes_the_index_report_flag_as_sent(
    client: httpx.AsyncClient, world: World, database: Database, value: Any
) -> None:
    """Quay's securityworker sends ``"vulnerable_index_report_created": "true"`` (a string)."""
    response = await post_vulnerability(client, world, value)
    assert response.status_code == 201, response.text
    async with database.read() as session:
        (payload,) = (await session.scalars(select(Event.payload))).all()
    assert payload["vulnerable_index_report_created"] == value  # stored as it was sent
    assert type(payload["vulnerable_index_report_created"]) is type(value)


@pytest.mark.parametrize("value", ["yes", "1", "", 1, 0, None, ["true"]])
async def test_vulnerability_event_refuses_other_index_report_flags(
    client: httpx.AsyncClient, world: World, value: Any
) -> None:
    response = await post_vulnerability(client, world, value)
    if value is None:  # null means absent, as for every optional field
        assert response.status_code == 201, response.text
        return
    assert_quay_error(response, 400, "vulnerable_index_report_created")


async def test_our_importer_sends_the_index_report_flag_as_quay_does(
    world: World, database: Database, settings: Any
) -> None:
    async with database.write() as session:
        repo = await session.scalar(select(Repository).where(Repository.name == "app"))
        assert repo is not None
        recorded = await record_finding(
            session,
            repo,
            tags=["latest"],
            digest=None,
            vulnerability={"id": "CVE-2", "priority": "High"},
            settings=settings,
            source="test",
            vulnerable_index_report_created=True,
        )
        assert recorded is not None
        assert recorded.event.payload["vulnerable_index_report_created"] == "true"


# -- 6. reset --------------------------------------------------------------------------------------


async def notification_with_a_waiting_retry(
    client: httpx.AsyncClient, world: World, database: Database, *, enabled: bool, failures: int
) -> tuple[str, Any]:
    """A notification with one pending delivery whose next attempt is an hour away."""
    uuid = (await create(client, world, EMAIL)).json()["uuid"]
    posted = await client.post(
        f"{REPO}/events",
        json={"kind": "repo_push", "data": {"updated_tags": {"latest": DIGEST}}},
        headers=world.headers("writer"),
    )
    assert posted.status_code == 201, posted.text
    later = utcnow() + timedelta(hours=1)
    async with database.write() as session:
        await session.execute(update(Delivery).values(next_attempt_at=later, attempts=2))
        await session.execute(
            update(Notification)
            .where(Notification.uuid == uuid)
            .values(enabled=enabled, number_of_failures=failures, disabled_at=None if enabled else utcnow())
        )
    return uuid, later


async def stored(database: Database, uuid: str) -> tuple[Notification, Delivery, list[str]]:
    async with database.read() as session:
        notification = await session.scalar(select(Notification).where(Notification.uuid == uuid))
        delivery = await session.scalar(select(Delivery))
        changes = (
            await session.scalars(
                select(NotificationChange.kind)
                .where(NotificationChange.notification_uuid == uuid)
                .order_by(NotificationChange.id)
            )
        ).all()
    assert notification is not None and delivery is not None
    return notification, delivery, list(changes)


async def test_reset_of_an_enabled_notification_leaves_waiting_retries_alone(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """Quay's reset only zeroes number_of_failures: a retry waiting its backoff keeps waiting."""
    uuid, later = await notification_with_a_waiting_retry(client, world, database, enabled=True, failures=2)
    assert (await client.post(BASE + uuid, headers=world.headers("admin"))).status_code == 204
    notification, delivery, changes = await stored(database, uuid)
    assert (notification.enabled, notification.number_of_failures) == (True, 0)
    assert delivery.next_attempt_at == later
    assert changes == ["add_repo_notification", "reset_repo_notification"]
    # a second reset changes nothing, so nothing is logged
    assert (await client.post(BASE + uuid, headers=world.headers("admin"))).status_code == 204
    notification, delivery, changes = await stored(database, uuid)
    assert (notification.enabled, notification.number_of_failures) == (True, 0)
    assert delivery.next_attempt_at == later
    assert changes == ["add_repo_notification", "reset_repo_notification"]


async def test_reset_of_a_disabled_notification_releases_its_held_deliveries(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    uuid, _ = await notification_with_a_waiting_retry(client, world, database, enabled=False, failures=10)
    assert (await client.post(BASE + uuid, headers=world.headers("admin"))).status_code == 204
    notification, delivery, changes = await stored(database, uuid)
    assert (notification.enabled, notification.number_of_failures) == (True, 0)
    assert notification.disabled_at is None
    assert delivery.next_attempt_at <= utcnow()
    assert changes == ["add_repo_notification", "reset_repo_notification"]
    assert (await client.post(BASE + uuid, headers=world.headers("admin"))).status_code == 204
    assert (await stored(database, uuid))[2] == changes  # the second reset changes nothing


async def test_reset_of_an_untouched_notification_logs_nothing(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    uuid = (await create(client, world, EMAIL)).json()["uuid"]
    assert (await client.post(BASE + uuid, headers=world.headers("admin"))).status_code == 204
    async with database.read() as session:
        kinds = (await session.scalars(select(NotificationChange.kind))).all()
    assert kinds == ["add_repo_notification"]


# -- 7. the create body ----------------------------------------------------------------------------


async def test_create_ignores_unknown_top_level_keys(client: httpx.AsyncClient, world: World) -> None:
    """Quay ignores top-level keys it does not know."""
    response = await create(client, world, {**EMAIL, "eventConfig": {}, "surprise": 1, "extra": {"a": [1]}})
    assert response.status_code == 201, response.text
    assert "surprise" not in response.json()


async def test_create_takes_quay_automations_event_config(client: httpx.AsyncClient, world: World) -> None:
    """Quay's automation sends both eventConfig and event_config, with the same content."""
    both = {**EMAIL, "eventConfig": {"tag-patterns": ["v*"]}, "event_config": {"tag-patterns": ["v*"]}}
    response = await create(client, world, both)
    assert response.status_code == 201, response.text
    assert response.json()["event_config"] == {"tag-patterns": ["v*"]}
    only_snake = await create(client, world, {**EMAIL, "event_config": {"tag-patterns": ["r*"]}})
    assert only_snake.status_code == 201, only_snake.text
    assert only_snake.json()["event_config"] == {"tag-patterns": ["r*"]}
    # validated like eventConfig
    assert_quay_error(
        await create(client, world, {**EMAIL, "event_config": {"tag-patterns": "v*"}}), 400, "tag-patterns"
    )


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        (
            {**EMAIL, "eventConfig": {"tag-patterns": ["v*"]}, "event_config": {"tag-patterns": ["w*"]}},
            ("eventConfig", "event_config", "differ"),
        ),
        ({**EMAIL, "eventConfig": {}, "event_config": {"level": 1}}, ("eventConfig", "event_config")),
        ({**EMAIL, "event_config": "v*"}, ("event_config",)),
        ({**EMAIL, "eventConfig": []}, ("eventConfig",)),
        ({**EMAIL, "title": 5}, ("title",)),
        ({**EMAIL, "config": "ops@example.com", "surprise": 1}, ("config",)),
        ({"method": "email", "config": {"email": "ops@example.com"}, "surprise": 1}, ("event",)),
    ],
)
async def test_create_still_checks_the_known_keys(
    client: httpx.AsyncClient, world: World, body: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    assert_quay_error(await create(client, world, body), 400, *fragments)
    assert (await client.get(BASE, headers=world.headers("admin"))).json() == {"notifications": []}


async def test_create_documents_the_rule_in_openapi(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["NotificationCreate"]
    assert schema.get("additionalProperties") is not False
    assert "event_config" in schema["properties"]
    assert "ignored" in schema["description"] and "event_config" in schema["description"]
