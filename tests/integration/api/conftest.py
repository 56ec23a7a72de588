"""An application on the test database, an HTTP client for it, and a world of users with every role."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from regnotify import accounts
from regnotify.accounts import Role
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import AuthorizedEmail

# Name resolution for tests: no DNS here, so names map to fixed addresses (public and private).
ADDRESSES = {
    "hooks.slack.com": ["52.89.214.238"],
    "receiver.example.com": ["93.184.215.14"],
    "internal.example.com": ["10.1.2.3"],
}


async def fixed_resolver(host: str) -> list[str]:
    if host in ADDRESSES:
        return ADDRESSES[host]
    raise socket.gaierror(socket.EAI_NONAME, f"unknown host {host}")


@dataclass
class World:
    """Users holding each role on ``acme/app``, with a bearer token each."""

    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        if who == "anonymous":
            return {}
        return {"Authorization": f"Bearer {self.tokens[who]}"}


CONFIRMED_EMAILS = ("ops@example.com", "a@example.com")

PRINCIPALS = (
    "anonymous",
    "noaccess",
    "reader",
    "writer",
    "admin",
    "other_admin",
    "org_admin",
    "superuser",
    "service",
    "acme_source",
    "other_source",
    "revoked",
)
SOURCES = ("service", "acme_source", "other_source")  # service tokens: every namespace, acme, globex


@pytest.fixture
async def world(database: Database) -> World:
    world = World()
    async with database.write() as s:
        users = {
            name: await accounts.create_user(s, name, superuser=name == "superuser")
            for name in ("noaccess", "reader", "writer", "admin", "other_admin", "org_admin", "superuser")
        }
        await accounts.create_organization(s, "acme", admins=[users["org_admin"]])
        app_repo = await accounts.create_repository(s, "acme/app")
        other_repo = await accounts.create_repository(s, "acme/other")
        await accounts.grant(s, app_repo, Role.READ, user=users["reader"])
        await accounts.grant(s, app_repo, Role.WRITE, user=users["writer"])
        await accounts.grant(s, app_repo, Role.ADMIN, user=users["admin"])
        await accounts.grant(s, other_repo, Role.ADMIN, user=users["other_admin"])
        for repo in (app_repo, other_repo):  # addresses the tests use, confirmed as by the mailed link
            for email in CONFIRMED_EMAILS:
                s.add(AuthorizedEmail(repository_id=repo.id, email=email, confirmed=True, send_count=0))
        for name, user in users.items():
            world.tokens[name] = (await accounts.issue_token(s, name=name, user=user)).secret
        world.tokens["service"] = (await accounts.issue_token(s, name="ci")).secret
        for who, namespace in (("acme_source", "acme"), ("other_source", "globex")):
            issued = await accounts.issue_token(s, name=f"{namespace}-ci", namespaces=[namespace])
            world.tokens[who] = issued.secret
        revoked = await accounts.issue_token(s, name="old", user=users["admin"])
        world.tokens["revoked"] = revoked.secret
        await accounts.revoke_token(s, revoked.id)
    return world


@pytest.fixture
async def client(settings: Settings, database: Database) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database=database, resolver=fixed_resolver)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as http:
            yield http
