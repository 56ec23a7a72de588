"""Settings → Notifications from the pages: create (errors beside their fields), the table, Test,
Enable, Delete; every action scoped to the repository in the URL."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, Notification, NotificationChange
from tests.integration.web.conftest import PageClient

NEW = "/repository/acme/app/notification/new"
SETTINGS = "/repository/acme/app?tab=settings"
WEBHOOK = {
    "event": "repo_push",
    "method": "webhook",
    "webhook_url": "https://receiver.example.com/hooks/x?t=1",
}


def error_of(html: str, field: str) -> str:
    found = re.search(rf'<p class="field-error" id="{field}-error">([^<]*)</p>', html)
    assert found, f"no error shown for {field}"
    return found.group(1)


async def create(pages: PageClient, fields: dict[str, str]) -> str:
    await pages.get(NEW)
    response = await pages.post(NEW, fields)
    assert response.status_code in (200, 303), response.text
    table = await pages.get(SETTINGS)
    uuids = re.findall(r'data-notification="([^"]+)"', table.text)
    return uuids[-1]


async def test_errors_appear_next_to_their_fields(pages: PageClient) -> None:
    await pages.sign_in("admin")
    await pages.get(NEW)
    for fields, field, fragment in (
        ({**WEBHOOK, "template": '{"a": '}, "template", "template is invalid"),
        ({**WEBHOOK, "webhook_url": "https://internal.example.com/x"}, "webhook_url", "internal networks"),
        ({**WEBHOOK, "webhook_url": ""}, "webhook_url", "Missing url"),
        ({**WEBHOOK, "event": "build_success", "ref_regex": "(unclosed"}, "ref_regex", "not a valid regular"),
        ({**WEBHOOK, "event": "repo_image_expiry"}, "days", "days is required"),
        ({**WEBHOOK, "event": "no_such_event"}, "event", "unknown event"),
        ({**WEBHOOK, "title": "x" * 300}, "title", "too long"),
        (
            {"event": "repo_push", "method": "email", "email": "new@example.com"},
            "email",
            "confirm the address",
        ),
        (
            {
                "event": "repo_push",
                "method": "quay_notification",
                "target_kind": "user",
                "target_name": "ghost",
            },
            "target_name",
            "Unknown user ghost",
        ),
        (
            {"event": "repo_push", "method": "slack", "chat_url": "https://chat.example.com/x"},
            "chat_url",
            "Slack",
        ),
    ):
        response = await pages.post(NEW, fields)
        assert response.status_code == 400, fields
        assert fragment in error_of(response.text, field), (field, error_of(response.text, field))
        assert f'aria-describedby="{field}-error"' in response.text or f"{field}-error" in response.text
        kept = fields.get("webhook_url") or fields.get("email") or ""
        assert kept in response.text  # what was typed stays in the form
    assert "data-notification=" not in (await pages.get(SETTINGS)).text  # nothing was created


async def test_webhook_with_signing_secret_shown_once(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    await pages.get(NEW)
    created = await pages.post(
        NEW, {**WEBHOOK, "sign": "yes", "tag_patterns": "v*, latest", "title": "Tell CI"}
    )
    assert created.status_code == 200
    secret = re.search(r'id="signing-secret" class="secret">(whsec_[^<]+)<', created.text)
    assert secret, created.text
    table = await pages.get(SETTINGS)
    assert "Tell CI" in table.text and "tags v*, latest" in table.text
    assert "https://receiver.example.com/… (signed)" in table.text
    assert secret.group(1) not in table.text and "hooks/x" not in table.text and "t=1" not in table.text
    async with database.read() as session:
        (stored,) = await session.scalars(select(Notification))
    assert stored.event_config == {"tag-patterns": ["v*", "latest"]} and stored.title == "Tell CI"


async def test_in_app_email_and_filters_are_created(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    await create(pages, {"event": "repo_push", "method": "email", "email": " ops@example.com "})
    await create(
        pages,
        {
            "event": "vulnerability_found",
            "level": "1",
            "method": "quay_notification",
            "target_kind": "user",
            "target_name": "bob",
            "title": "Vulns for Bob",
        },
    )
    table = (await pages.get(SETTINGS)).text
    assert "ops@example.com" in table and "High or more severe" in table and "user bob" in table
    async with database.read() as session:
        configs = {n.method: (n.config, n.event_config) for n in await session.scalars(select(Notification))}
    assert configs["quay_notification"] == ({"target": {"kind": "user", "name": "bob"}}, {"level": "1"})


async def test_test_button_queues_a_delivery_and_shows_history(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    uuid = await create(pages, {**WEBHOOK, "title": "Tell CI"})
    tested = await pages.post(f"/repository/acme/app/notification/{uuid}/test")
    assert tested.status_code == 303
    assert tested.headers["location"].startswith(f"/repository/acme/app/notification/{uuid}/history?tested=")
    history = await pages.get(tested.headers["location"])
    assert history.status_code == 200 and "History: Tell CI" in history.text
    assert "pending" in history.text and "data-refresh-while-pending" in history.text
    async with database.read() as session:
        (delivery,) = await session.scalars(select(Delivery))
    assert delivery.is_test and f'data-delivery="{delivery.uuid}"' in history.text
    table = await pages.get(SETTINGS)
    assert 'class="state state-pending">pending' in table.text  # the last delivery, in the table


async def test_disabled_notification_is_enabled_again(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    uuid = await create(pages, {**WEBHOOK, "title": "Flaky"})
    async with database.write() as session:
        await session.execute(update(Notification).values(enabled=False, number_of_failures=10))
    table = await pages.get(SETTINGS)
    assert 'disabled</span> <span class="small-text">after 10 failures' in table.text
    assert f"/notification/{uuid}/enable" in table.text
    enabled = await pages.post(f"/repository/acme/app/notification/{uuid}/enable")
    assert enabled.status_code == 303
    async with database.read() as session:
        notification = await session.scalar(select(Notification))
    assert notification is not None and notification.enabled and notification.number_of_failures == 0


async def test_delete_asks_first(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    uuid = await create(pages, {**WEBHOOK, "title": "Short-lived"})
    confirm = await pages.get(f"/repository/acme/app/notification/{uuid}/delete")
    assert (
        confirm.status_code == 200
        and "Delete notification?" in confirm.text
        and "Short-lived" in confirm.text
    )
    async with database.read() as session:
        assert await session.scalar(select(Notification)) is not None  # looking deletes nothing
    deleted = await pages.post(f"/repository/acme/app/notification/{uuid}/delete")
    assert deleted.status_code == 303 and deleted.headers["location"].endswith("deleted=1")
    async with database.read() as session:
        assert await session.scalar(select(Notification)) is None


async def test_uuids_are_scoped_to_the_repository_in_the_url(
    pages: PageClient, second_pages: PageClient, database: Database
) -> None:
    await pages.sign_in("admin")
    uuid = await create(pages, {**WEBHOOK, "title": "Mine"})
    await second_pages.sign_in("other_admin")  # admin of acme/other only
    await second_pages.get("/repository/acme/other?tab=settings")
    for path in ("history", "delete"):
        response = await second_pages.get(f"/repository/acme/other/notification/{uuid}/{path}")
        assert response.status_code == 404, path
    for action in ("test", "enable", "delete"):
        response = await second_pages.post(f"/repository/acme/other/notification/{uuid}/{action}")
        assert response.status_code == 404, action
        response = await second_pages.post(f"/repository/acme/app/notification/{uuid}/{action}")
        assert response.status_code == 403, action
    async with database.read() as session:
        assert await session.scalar(select(Notification)) is not None
        assert await session.scalar(select(Delivery)) is None  # nothing was tested


async def test_readers_cannot_create(pages: PageClient) -> None:
    await pages.sign_in("reader")
    await pages.get("/repository/acme/app")
    response = await pages.post(NEW, {**WEBHOOK})
    assert response.status_code == 403


async def test_titles_are_escaped(pages: PageClient) -> None:
    await pages.sign_in("admin")
    await create(pages, {**WEBHOOK, "title": "<script>alert(1)</script>"})
    table = await pages.get(SETTINGS)
    assert "<script>alert(1)</script>" not in table.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in table.text


async def test_page_actions_are_audited_and_tests_rate_limited(
    pages: PageClient, database: Database, settings: Settings
) -> None:
    await pages.sign_in("admin")
    uuid = await create(pages, {**WEBHOOK, "title": "Audited"})
    for _ in range(settings.test_calls_per_minute):
        assert (await pages.post(f"/repository/acme/app/notification/{uuid}/test")).status_code == 303
    limited = await pages.post(f"/repository/acme/app/notification/{uuid}/test")
    assert limited.status_code == 429 and "tested 10 times in the last minute" in limited.text
    async with database.write() as session:  # the Enable button is for a disabled notification
        await session.execute(update(Notification).values(enabled=False, number_of_failures=3))
    await pages.post(f"/repository/acme/app/notification/{uuid}/enable")
    await pages.post(f"/repository/acme/app/notification/{uuid}/delete")
    async with database.read() as session:
        changes = list(await session.scalars(select(NotificationChange).order_by(NotificationChange.id)))
    kinds = [change.kind for change in changes]
    assert kinds == [
        "add_repo_notification",
        *["test_repo_notification"] * settings.test_calls_per_minute,
        "reset_repo_notification",
        "delete_repo_notification",
    ]
    assert {change.performer for change in changes} == {"user:admin"}
    assert {change.notification_uuid for change in changes} == {uuid}
