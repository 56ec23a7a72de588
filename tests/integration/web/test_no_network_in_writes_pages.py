"""The create form, as the API: its confirmation mail and its host look-up wait on the network with no
write transaction open (an event post completes meanwhile), and the per-repository cap refuses one
more with a message. Order is asserted, never durations."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import func, select

from regnotify import accounts
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import AuthorizedEmail, Notification
from regnotify.outbound.addresses import Resolver
from tests.integration.api.conftest import fixed_resolver
from tests.integration.slow_network import SilentSmtp, SlowResolver, first_done, silent_smtp_server
from tests.integration.web.conftest import PageClient
from tests.integration.web.test_notification_pages import WEBHOOK, error_of

NEW = "/repository/acme/app/notification/new"
EVENTS = "/api/v1/repository/acme/app/events"
DIGEST = "sha256:" + "d" * 64


@asynccontextmanager
async def page_client(
    settings: Settings, database: Database, resolver: Resolver
) -> AsyncIterator[PageClient]:
    app = create_app(settings, database=database, resolver=resolver)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://regnotify.test") as http:
            yield PageClient(http)


@pytest.fixture
async def silent_smtp() -> AsyncIterator[SilentSmtp]:
    async with silent_smtp_server() as silent:
        yield silent


@pytest.fixture
async def service_token(database: Database, web_users: dict[str, int]) -> str:
    async with database.write() as session:
        return (await accounts.issue_token(session, name="registry")).secret


async def post_event(pages: PageClient, token: str, event_id: str) -> httpx.Response:
    body = {"kind": "repo_push", "id": event_id, "data": {"updated_tags": {"v1": DIGEST}}}
    return await pages.http.post(EVENTS, json=body, headers={"Authorization": f"Bearer {token}"})


async def test_event_post_completes_while_the_form_mails_a_confirmation(
    settings: Settings, database: Database, silent_smtp: SilentSmtp, service_token: str
) -> None:
    configured = settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": silent_smtp.port, "smtp_security": "plain"}
    )
    async with page_client(configured, database, fixed_resolver) as pages:
        await pages.sign_in("admin")
        await pages.get(NEW)
        fields = {"event": "repo_push", "method": "email", "email": "quiet@example.com", "action": "verify"}
        asking = asyncio.create_task(pages.post(NEW, fields))
        await silent_smtp.connected.wait()
        posting = asyncio.create_task(post_event(pages, service_token, "while-mailing"))

        assert await first_done(asking, posting) == {posting}
        assert not asking.done()
        assert (await posting).status_code == 201

        silent_smtp.hang_up()
        answer = await asking
        assert answer.status_code == 503 and "Could not send the confirmation mail" in answer.text
        assert 'id="email-error"' in answer.text
    async with database.read() as session:  # withdrawn: nothing counts against the rate limit
        assert await session.scalar(select(func.count()).select_from(AuthorizedEmail)) == 1  # ops@ only


async def test_event_post_completes_while_the_form_waits_on_the_resolver(
    settings: Settings, database: Database, service_token: str
) -> None:
    resolver = SlowResolver(fixed_resolver)
    async with page_client(settings, database, resolver) as pages:
        await pages.sign_in("admin")
        await pages.get(NEW)
        creating = asyncio.create_task(pages.post(NEW, WEBHOOK))
        await resolver.asked.wait()
        posting = asyncio.create_task(post_event(pages, service_token, "while-resolving"))

        assert await first_done(creating, posting) == {posting}
        assert not creating.done()
        assert (await posting).status_code == 201

        resolver.answer()
        assert (await creating).status_code == 303
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 1


async def test_the_form_refuses_past_the_cap(
    settings: Settings, database: Database, web_users: object
) -> None:
    capped = settings.model_copy(update={"max_notifications_per_repository": 1})
    async with page_client(capped, database, fixed_resolver) as pages:
        await pages.sign_in("admin")
        await pages.get(NEW)
        assert (await pages.post(NEW, {**WEBHOOK, "title": "first"})).status_code == 303
        await pages.get(NEW)
        refused = await pages.post(NEW, {**WEBHOOK, "title": "second"})
        assert refused.status_code == 400
        message = error_of(refused.text, "event")
        assert "already has 1 notifications" in message and "at most 1" in message
        assert "REGNOTIFY_MAX_NOTIFICATIONS_PER_REPOSITORY" in message and "delete one first" in message
        assert 'value="second"' in refused.text  # what was typed is kept
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 1
