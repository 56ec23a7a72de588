"""The create form's e-mail confirmation, through a real SMTP server (aiosmtpd) and the confirmation page."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from tests.integration.api.conftest import fixed_resolver
from tests.integration.conftest import Inbox
from tests.integration.web.conftest import PageClient

NEW = "/repository/acme/app/notification/new"
STATUS = "/repository/acme/app/authorizedemail?email=new@example.com"
EMAIL = {"event": "repo_push", "method": "email", "email": "new@example.com", "title": "Mail new"}


@pytest.fixture
async def mail_pages(
    settings: Settings, database: Database, smtp: tuple[Inbox, int], web_users: dict[str, int]
) -> AsyncIterator[PageClient]:
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": smtp[1], "smtp_security": "plain"}
    )
    app = create_app(configured, database=database, resolver=fixed_resolver)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://regnotify.test") as http:
            yield PageClient(http)


async def test_confirm_inline_then_create(mail_pages: PageClient, smtp: tuple[Inbox, int]) -> None:
    inbox, _ = smtp
    await mail_pages.sign_in("admin")
    await mail_pages.get(NEW)
    refused = await mail_pages.post(NEW, EMAIL)
    assert refused.status_code == 400 and "confirm the address" in refused.text

    asked = await mail_pages.post(NEW, {**EMAIL, "action": "verify"})
    assert asked.status_code == 200 and 'data-email-wait="waiting"' in asked.text
    assert 'value="Mail new"' in asked.text  # the rest of the form is kept
    assert len(inbox.messages) == 1 and "acme/app" in inbox.messages[0]["Subject"]
    assert (await mail_pages.http.get(STATUS)).json() == {
        "email": "new@example.com",
        "asked": True,
        "confirmed": False,
    }

    link = inbox.link()
    page = await mail_pages.get(link)  # anyone holding the link; looking confirms nothing
    assert "acme/app" in page.text and "new@example.com" in page.text
    assert (await mail_pages.http.get(STATUS)).json()["confirmed"] is False
    confirmed = await mail_pages.http.post("/authrepoemail", data={"code": link.split("code=", 1)[1]})
    assert confirmed.status_code == 200 and "Confirmed" in confirmed.text
    assert (await mail_pages.http.get(STATUS)).json()["confirmed"] is True

    await mail_pages.get(NEW)
    created = await mail_pages.post(NEW, EMAIL)
    assert created.status_code == 303
    assert "new@example.com" in (await mail_pages.get("/repository/acme/app?tab=settings")).text


async def test_confirmation_mails_are_rate_limited(mail_pages: PageClient, smtp: tuple[Inbox, int]) -> None:
    await mail_pages.sign_in("admin")
    await mail_pages.get(NEW)
    assert (await mail_pages.post(NEW, {**EMAIL, "action": "verify"})).status_code == 200
    again = await mail_pages.post(NEW, {**EMAIL, "action": "verify"})
    assert again.status_code == 429 and "try again in" in again.text and 'id="email-error"' in again.text
    assert len(smtp[0].messages) == 1
    bad = await mail_pages.post(NEW, {**EMAIL, "email": "not-an-address", "action": "verify"})
    assert bad.status_code == 400 and 'id="email-error"' in bad.text


async def test_status_is_for_admins_only(mail_pages: PageClient) -> None:
    await mail_pages.sign_in("reader")
    assert (await mail_pages.http.get(STATUS)).status_code == 403
