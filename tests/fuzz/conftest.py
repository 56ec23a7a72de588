"""The fuzz tier: schemathesis against the API and hypothesis on the parsers, bounded and deterministic.

``seeded_api`` is one SQLite database holding ``acme/app`` with a notification, a delivery, a
build and an in-app notice (at fixed ids), and tokens for the repository's admin, a superuser and
a registry source, so that fuzzed requests get past authentication and lookups into the code
behind them. The terminal summary says how many requests schemathesis made.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, update

from regnotify import accounts
from regnotify.accounts import Role
from regnotify.accounts.tokens import hash_token
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import ApiToken, AuthorizedEmail, Build, Delivery, InboxItem, Notification, User
from regnotify.delivery.inbox import add_notices

# Requests made by the schemathesis tests, by operation and by status; the terminal summary prints them.
FUZZ_REQUESTS: Counter[str] = Counter()
FUZZ_STATUSES: Counter[int] = Counter()

REPOSITORY = "acme/app"
NOTIFICATION_UUID = "0f0f0f0f-0000-4000-8000-000000000001"
DELIVERY_UUID = "0f0f0f0f-0000-4000-8000-000000000002"
BUILD_UUID = "0f0f0f0f-0000-4000-8000-000000000003"
NOTICE_UUID = "0f0f0f0f-0000-4000-8000-000000000004"
ADMIN_TOKEN = "rnt_fuzz-admin-of-acme-app"
SUPERUSER_TOKEN = "rnt_fuzz-superuser"
SOURCE_TOKEN = "rnt_fuzz-registry-source"


async def no_dns(host: str) -> list[str]:
    """Name resolution for the fuzzed app: no name resolves (the tests use loopback only)."""
    raise socket.gaierror(socket.EAI_NONAME, f"unknown host {host}")


@dataclass(frozen=True)
class SeededApi:
    settings: Settings
    admin_token: str = ADMIN_TOKEN
    superuser_token: str = SUPERUSER_TOKEN
    source_token: str = SOURCE_TOKEN


async def _seed_accounts(db: Database) -> None:
    async with db.write() as s:
        admin = await accounts.create_user(s, "fuzzadmin", email="fuzzadmin@example.com")
        root = await accounts.create_user(s, "root", superuser=True)
        await accounts.create_organization(s, "acme", admins=[root])
        repo = await accounts.create_repository(s, REPOSITORY)
        await accounts.grant(s, repo, Role.ADMIN, user=admin)
        s.add(AuthorizedEmail(repository_id=repo.id, email="ops@example.com", confirmed=True, send_count=0))
        for name, user, secret in (
            ("fuzz", admin, ADMIN_TOKEN),
            ("fuzz-root", root, SUPERUSER_TOKEN),
            ("registry", None, SOURCE_TOKEN),
        ):
            issued = await accounts.issue_token(s, name=name, user=user)
            await s.execute(
                update(ApiToken).where(ApiToken.id == issued.id).values(token_hash=hash_token(secret))
            )


async def _seed_through_api(settings: Settings, admin_token: str) -> tuple[str, str, str]:
    """A notification, a test delivery of it and a build, made as a client would make them."""
    app = create_app(settings, resolver=no_dns)
    headers = {"Authorization": f"Bearer {admin_token}"}
    base = f"/api/v1/repository/{REPOSITORY}"
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as http:
            created = await http.post(
                f"{base}/notification/",
                headers=headers,
                json={
                    "event": "repo_push",
                    "method": "quay_notification",
                    "config": {"target": {"kind": "user", "name": "fuzzadmin"}},
                    "eventConfig": {"tag-patterns": ["v*"]},
                },
            )
            assert created.status_code == 201, created.text
            notification = created.json()["uuid"]
            tested = await http.post(f"{base}/notification/{notification}/test", headers=headers)
            assert tested.status_code == 200, tested.text
            build = await http.post(f"{base}/builds", headers=headers, json={"docker_tags": ["v1"]})
            assert build.status_code == 201, build.text
            return notification, tested.json()["delivery"]["id"], build.json()["id"]


async def _seed(settings: Settings) -> SeededApi:
    db = Database(settings.sqlalchemy_url)
    try:
        await _seed_accounts(db)
        notification, delivery, build = await _seed_through_api(settings, ADMIN_TOKEN)
        async with db.write() as s:
            await s.execute(
                update(Notification).where(Notification.uuid == notification).values(uuid=NOTIFICATION_UUID)
            )
            await s.execute(update(Delivery).where(Delivery.uuid == delivery).values(uuid=DELIVERY_UUID))
            await s.execute(update(Build).where(Build.uuid == build).values(uuid=BUILD_UUID))
            user = (await s.scalars(select(User).where(User.username == "fuzzadmin"))).one()
            row = (await s.scalars(select(Delivery).where(Delivery.uuid == DELIVERY_UUID))).one()
            await add_notices(
                s,
                [user],
                kind="repo_push",
                metadata={"repository": REPOSITORY, "updated_tags": ["v1"]},
                repository_id=None,
                delivery_id=row.id,
            )
            await s.execute(update(InboxItem).values(uuid=NOTICE_UUID))
    finally:
        await db.dispose()
    return SeededApi(settings)


@pytest.fixture(scope="module")
def seeded_api(tmp_path_factory: pytest.TempPathFactory, sqlite_template: Path) -> SeededApi:
    directory = tmp_path_factory.mktemp("fuzz")
    shutil.copyfile(sqlite_template, directory / "regnotify.db")
    settings = Settings(
        data_dir=directory / "data",
        database_url=f"sqlite:///{directory / 'regnotify.db'}",
        public_base_url="https://regnotify.test",
        registry_host="registry.test:5000",
        secret_key=Fernet.generate_key().decode(),
        chat_allowed_hosts=[],
        outbound_allowed_networks=[],
    )
    return asyncio.run(_seed(settings))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many requests schemathesis made, so that the CI log shows the fuzzing really ran."""
    if FUZZ_REQUESTS:
        by_class = Counter(f"{status // 100}xx" for status in FUZZ_STATUSES.elements())
        classes = ", ".join(f"{n} {name}" for name, n in sorted(by_class.items()))
        terminalreporter.write_line(
            f"schemathesis: {sum(FUZZ_REQUESTS.values())} requests over {len(FUZZ_REQUESTS)} operations "
            f"({classes})"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test here carries the ``fuzz`` marker (``-m "not fuzz"`` leaves the tier out)."""
    for item in items:
        if "tests/fuzz/" in item.nodeid:
            item.add_marker(pytest.mark.fuzz)
