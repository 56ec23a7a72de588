"""Pages over HTTP against the app (no browser): users with passwords, and a client that signs in
and carries its session cookie and the page's CSRF token like a browser does."""

from __future__ import annotations

import re
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
from tests.integration.api.conftest import fixed_resolver

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
USERS = ("admin", "reader", "other_admin", "bob", "noaccess")


@dataclass
class PageClient:
    """An httpx client that keeps cookies and remembers the CSRF token of the last page it saw."""

    http: httpx.AsyncClient
    csrf: str = ""
    last: httpx.Response | None = field(default=None, repr=False)

    async def get(self, url: str, **kwargs: object) -> httpx.Response:
        response = await self.http.get(url, **kwargs)  # type: ignore[arg-type]
        self._remember(response)
        return response

    async def post(self, url: str, data: dict[str, str] | None = None, **kwargs: object) -> httpx.Response:
        """Post a form the way the page would: with the CSRF token it carried."""
        body = {"csrf_token": self.csrf, **(data or {})}
        response = await self.http.post(url, data=body, **kwargs)  # type: ignore[arg-type]
        self._remember(response)
        return response

    def _remember(self, response: httpx.Response) -> None:
        self.last = response
        found = (
            CSRF.search(response.text) if "text/html" in response.headers.get("content-type", "") else None
        )
        if found:
            self.csrf = found.group(1)

    async def sign_in(self, username: str, password: str = PASSWORD) -> httpx.Response:
        await self.get("/signin")
        return await self.post("/signin", {"username": username, "password": password})


@pytest.fixture
async def web_users(database: Database) -> dict[str, int]:
    """``acme/app``: admin (admin grant), reader and bob (read); ``acme/other``: other_admin."""
    ids = {}
    async with database.write() as s:
        users = {name: await accounts.create_user(s, name, password=PASSWORD) for name in USERS}
        await accounts.create_organization(s, "acme")
        app_repo = await accounts.create_repository(s, "acme/app")
        other_repo = await accounts.create_repository(s, "acme/other")
        await accounts.create_repository(s, "acme/tools")
        await accounts.grant(s, app_repo, Role.ADMIN, user=users["admin"])
        await accounts.grant(s, app_repo, Role.READ, user=users["reader"])
        await accounts.grant(s, app_repo, Role.READ, user=users["bob"])
        await accounts.grant(s, other_repo, Role.ADMIN, user=users["other_admin"])
        s.add(
            AuthorizedEmail(repository_id=app_repo.id, email="ops@example.com", confirmed=True, send_count=0)
        )
        ids = {name: user.id for name, user in users.items()}
    return ids


@pytest.fixture
async def web_app(settings: Settings, database: Database) -> AsyncIterator[object]:
    app = create_app(settings, database=database, resolver=fixed_resolver)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def pages(web_app: object, web_users: dict[str, int]) -> AsyncIterator[PageClient]:
    """A browser-like client, signed in as nobody yet (``await pages.sign_in("admin")``)."""
    transport = httpx.ASGITransport(app=web_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://regnotify.test") as http:
        yield PageClient(http)


@pytest.fixture
async def second_pages(web_app: object, web_users: dict[str, int]) -> AsyncIterator[PageClient]:
    """Another browser, with cookies of its own."""
    transport = httpx.ASGITransport(app=web_app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="https://regnotify.test") as http:
        yield PageClient(http)
