"""Nothing waits on the network inside a write transaction (DESIGN.md, Isolation), and the cap on a
repository's notifications.

On SQLite the write turn is the whole process's: an e-mail authorization whose SMTP server never
answers, or a notification create whose resolver takes seconds, used to hold it, and every registry
and event post waited. These tests hold the network part open and check that an event post, which
takes the write turn, completes first. They assert order, never durations: the slow parts end
when the test lets them (or, on code that regressed, by their own timeout, failing the test).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import func, select

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import AuthorizedEmail, Notification, RepositoryPermission, User
from regnotify.notifications.email_addresses import pending_by_code
from regnotify.outbound.addresses import Resolver
from tests.integration.conftest import Inbox, smtp_server
from tests.integration.slow_network import SilentSmtp, SlowResolver, first_done, silent_smtp_server

from .conftest import World, fixed_resolver
from .test_notifications_api import assert_quay_error

REPO = "/api/v1/repository/acme/app"
EVENTS = f"{REPO}/events"
NOTIFICATIONS = f"{REPO}/notification/"
DIGEST = "sha256:" + "c" * 64
WEBHOOK = {"event": "repo_push", "method": "webhook", "config": {"url": "https://receiver.example.com/hook"}}


@asynccontextmanager
async def app_client(
    settings: Settings, database: Database, resolver: Resolver
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database, resolver=resolver)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://regnotify.test") as http:
            yield http


def smtp_settings(settings: Settings, port: int, **more: object) -> Settings:
    return settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "plain", **more}
    )


@pytest.fixture
async def silent_smtp() -> AsyncIterator[SilentSmtp]:
    async with silent_smtp_server() as silent:
        yield silent


@pytest.fixture
async def silent_client(
    settings: Settings, database: Database, silent_smtp: SilentSmtp
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(smtp_settings(settings, silent_smtp.port), database, fixed_resolver) as http:
        yield http


async def post_event(client: httpx.AsyncClient, world: World, event_id: str) -> httpx.Response:
    body = {"kind": "repo_push", "id": event_id, "data": {"updated_tags": {"v1": DIGEST}}}
    return await client.post(EVENTS, json=body, headers=world.headers("writer"))


async def test_event_post_completes_while_the_confirmation_mail_waits_on_smtp(
    silent_client: httpx.AsyncClient, silent_smtp: SilentSmtp, world: World, database: Database
) -> None:
    address = "quiet@example.com"
    asking = asyncio.create_task(
        silent_client.post(f"{REPO}/authorizedemail/{address}", headers=world.headers("admin"))
    )
    await silent_smtp.connected.wait()  # the request is now talking to the SMTP server
    posting = asyncio.create_task(post_event(silent_client, world, "while-mailing"))

    assert await first_done(asking, posting) == {posting}
    assert not asking.done()
    assert (await posting).status_code == 201, (await posting).text

    silent_smtp.hang_up()  # the server goes away without a word: the mail fails
    answer = await asking
    assert_quay_error(answer, 503, "could not send the confirmation mail", "try again later")
    # the failed request was withdrawn: as if never asked (a 404, no row, nothing counted)
    assert_quay_error(
        await silent_client.get(f"{REPO}/authorizedemail/{address}", headers=world.headers("admin")), 404
    )
    async with database.read() as session:
        rows = await session.scalar(
            select(func.count()).select_from(AuthorizedEmail).where(AuthorizedEmail.email == address)
        )
    assert rows == 0


async def test_event_post_completes_while_create_waits_on_the_resolver(
    settings: Settings, database: Database, world: World
) -> None:
    resolver = SlowResolver(fixed_resolver)
    async with app_client(settings, database, resolver) as client:
        creating = asyncio.create_task(
            client.post(NOTIFICATIONS, json=WEBHOOK, headers=world.headers("admin"))
        )
        await resolver.asked.wait()  # the create's SSRF check is waiting on the resolver
        posting = asyncio.create_task(post_event(client, world, "while-resolving"))

        assert await first_done(creating, posting) == {posting}
        assert not creating.done()
        assert (await posting).status_code == 201, (await posting).text

        resolver.answer()
        created = await creating
        assert created.status_code == 201, created.text
        listed = await client.get(NOTIFICATIONS, headers=world.headers("admin"))
        assert [n["uuid"] for n in listed.json()["notifications"]] == [created.json()["uuid"]]


async def test_create_rechecks_the_role_after_the_resolver_answers(
    settings: Settings, database: Database, world: World
) -> None:
    """The role checked before the look-up is checked again in the write that stores."""
    resolver = SlowResolver(fixed_resolver)
    async with app_client(settings, database, resolver) as client:
        creating = asyncio.create_task(
            client.post(NOTIFICATIONS, json=WEBHOOK, headers=world.headers("admin"))
        )
        await resolver.asked.wait()
        async with database.write() as session:
            admin_id = await session.scalar(select(User.id).where(User.username == "admin"))
            grant = await session.scalar(
                select(RepositoryPermission).where(RepositoryPermission.user_id == admin_id)
            )
            assert grant is not None
            await session.delete(grant)
        resolver.answer()
        assert_quay_error(await creating, 403)
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


class SwitchableInbox(Inbox):
    """A real SMTP server's handler that refuses the message (451) while ``refuse`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.refuse = False

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        if self.refuse:
            return "451 4.3.0 try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def switchable_smtp() -> Iterator[tuple[SwitchableInbox, int]]:
    inbox = SwitchableInbox()
    with smtp_server(inbox) as port:
        yield inbox, port


async def test_a_failed_confirmation_mail_does_not_count_and_keeps_the_earlier_link(
    settings: Settings,
    database: Database,
    world: World,
    switchable_smtp: tuple[SwitchableInbox, int],
) -> None:
    inbox, port = switchable_smtp
    configured = smtp_settings(settings, port, verification_min_interval=0, verification_max_per_day=2)
    address = "again@example.com"
    url = f"{REPO}/authorizedemail/{address}"
    admin = world.headers("admin")
    async with app_client(configured, database, fixed_resolver) as client:
        assert (await client.post(url, headers=admin)).status_code == 200
        first_code = inbox.link().split("code=", 1)[1]

        inbox.refuse = True
        assert_quay_error(await client.post(url, headers=admin), 503, "could not send the confirmation mail")
        async with database.read() as session:
            assert await pending_by_code(session, first_code) is not None  # the first link still works
            record = await session.scalar(select(AuthorizedEmail).where(AuthorizedEmail.email == address))
            assert record is not None and record.send_count == 1

        inbox.refuse = False
        assert (await client.post(url, headers=admin)).status_code == 200  # the 2nd of 2 a day
        assert len(inbox.messages) == 2
        assert_quay_error(await client.post(url, headers=admin), 429, "try again in")


async def test_the_cap_on_notifications_per_repository(
    settings: Settings, database: Database, world: World
) -> None:
    capped = settings.model_copy(update={"max_notifications_per_repository": 2})
    admin = world.headers("admin")
    async with app_client(capped, database, fixed_resolver) as client:
        made = []
        for title in ("one", "two"):
            response = await client.post(NOTIFICATIONS, json={**WEBHOOK, "title": title}, headers=admin)
            assert response.status_code == 201, response.text
            made.append(response.json()["uuid"])
        refused = await client.post(NOTIFICATIONS, json={**WEBHOOK, "title": "three"}, headers=admin)
        assert_quay_error(
            refused,
            400,
            "already has 2 notifications",
            "at most 2",
            "REGNOTIFY_MAX_NOTIFICATIONS_PER_REPOSITORY",
            "delete one first",
        )
        # another repository has room of its own
        other = await client.post(
            "/api/v1/repository/acme/other/notification/", json=WEBHOOK, headers=world.headers("other_admin")
        )
        assert other.status_code == 201, other.text

        assert (await client.delete(f"{NOTIFICATIONS}{made[0]}", headers=admin)).status_code == 204
        again = await client.post(NOTIFICATIONS, json={**WEBHOOK, "title": "three"}, headers=admin)
        assert again.status_code == 201, again.text


async def test_concurrent_creates_do_not_pass_the_cap(
    settings: Settings, database: Database, world: World
) -> None:
    """Creates racing for the last places: the check in the write lets exactly the cap through."""
    capped = settings.model_copy(update={"max_notifications_per_repository": 3})
    resolver = SlowResolver(fixed_resolver, callers=6)
    admin = world.headers("admin")
    async with app_client(capped, database, resolver) as client:
        racing = [
            asyncio.create_task(client.post(NOTIFICATIONS, json={**WEBHOOK, "title": f"n{i}"}, headers=admin))
            for i in range(6)
        ]
        await resolver.asked.wait()  # all six passed the early check (0 of 3) and wait on the look-up
        resolver.answer()  # now they store at once
        answers = await asyncio.gather(*racing)
    assert sorted(a.status_code for a in answers) == [201, 201, 201, 400, 400, 400]
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(Notification)) == 3
