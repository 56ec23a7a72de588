"""E-mail authorization end to end: a real SMTP server receives the link; the page's button confirms."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import AuthorizedEmail
from regnotify.db.types import utcnow
from tests.integration.conftest import Inbox

from .conftest import World, fixed_resolver
from .test_notifications_api import assert_quay_error

REPO = "/api/v1/repository/acme/app"


@pytest.fixture
async def mail_client(
    settings: Settings, database: Database, smtp: tuple[Inbox, int]
) -> AsyncIterator[httpx.AsyncClient]:
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_security": "plain"}
    )
    app = create_app(configured, database=database, resolver=fixed_resolver)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://regnotify.test") as http:
            yield http


def email_notification(address: str) -> dict[str, object]:
    return {"event": "repo_push", "method": "email", "config": {"email": address}, "eventConfig": {}}


async def test_authorization_flow(
    mail_client: httpx.AsyncClient, world: World, smtp: tuple[Inbox, int], database: Database
) -> None:
    inbox, _ = smtp
    admin = world.headers("admin")
    address = "new.person@example.com"
    assert_quay_error(await mail_client.get(f"{REPO}/authorizedemail/{address}", headers=admin), 404)
    refused = await mail_client.post(f"{REPO}/notification/", json=email_notification(address), headers=admin)
    assert_quay_error(refused, 400, "confirm the address")

    asked = await mail_client.post(f"{REPO}/authorizedemail/{address}", headers=admin)
    assert asked.status_code == 200, asked.text
    assert asked.json() == {"email": address, "repository": "app", "namespace": "acme", "confirmed": False}
    (message,) = inbox.messages
    assert message["To"] == address and "acme/app" in message["Subject"]
    link = inbox.link()

    page = await mail_client.get(link)
    assert page.status_code == 200 and "acme/app" in page.text and address in page.text
    assert page.headers["referrer-policy"] == "no-referrer"
    still = await mail_client.get(f"{REPO}/authorizedemail/{address}", headers=admin)
    assert still.json()["confirmed"] is False  # opening the link confirms nothing

    code = link.split("code=", 1)[1]
    confirmed = await mail_client.post("/authrepoemail", data={"code": code})
    assert confirmed.status_code == 200 and "Confirmed" in confirmed.text
    assert (await mail_client.get(f"{REPO}/authorizedemail/{address}", headers=admin)).json()[
        "confirmed"
    ] is True
    created = await mail_client.post(f"{REPO}/notification/", json=email_notification(address), headers=admin)
    assert created.status_code == 201, created.text

    again = await mail_client.post(f"{REPO}/authorizedemail/{address}", headers=admin)
    assert again.json()["confirmed"] is True and len(inbox.messages) == 1  # nothing more sent
    reused = await mail_client.post("/authrepoemail", data={"code": code})
    assert reused.status_code == 400  # a code works once


async def test_verification_mails_are_rate_limited(mail_client: httpx.AsyncClient, world: World) -> None:
    admin = world.headers("admin")
    first = await mail_client.post(f"{REPO}/authorizedemail/busy@example.com", headers=admin)
    assert first.status_code == 200
    second = await mail_client.post(f"{REPO}/authorizedemail/busy@example.com", headers=admin)
    assert_quay_error(second, 429, "try again in")
    assert 1 <= int(second.headers["retry-after"]) <= 60


async def test_expired_and_unknown_codes_do_not_confirm(
    mail_client: httpx.AsyncClient, world: World, smtp: tuple[Inbox, int], database: Database
) -> None:
    inbox, _ = smtp
    await mail_client.post(f"{REPO}/authorizedemail/late@example.com", headers=world.headers("admin"))
    code = inbox.link().split("code=", 1)[1]
    async with database.write() as session:
        await session.execute(update(AuthorizedEmail).values(code_expires_at=utcnow() - timedelta(seconds=1)))
    assert (await mail_client.get(f"/authrepoemail?code={code}")).status_code == 400
    assert (await mail_client.post("/authrepoemail", data={"code": code})).status_code == 400
    assert (await mail_client.post("/authrepoemail", data={"code": "made-up"})).status_code == 400
    status = await mail_client.get(f"{REPO}/authorizedemail/late@example.com", headers=world.headers("admin"))
    assert status.json()["confirmed"] is False


async def test_bad_addresses_and_permissions(mail_client: httpx.AsyncClient, world: World) -> None:
    assert_quay_error(
        await mail_client.post(f"{REPO}/authorizedemail/not-an-address", headers=world.headers("admin")), 400
    )
    for who, status in (("anonymous", 401), ("reader", 403), ("writer", 403), ("other_admin", 403)):
        response = await mail_client.post(f"{REPO}/authorizedemail/x@example.com", headers=world.headers(who))
        assert_quay_error(response, status)
