"""Fixtures for the worker tests: settings with short retries, and a repository with two users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from regnotify import accounts
from regnotify.accounts import Role
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Notification, Repository, User
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from regnotify.methods import get_method
from regnotify.runtime.crypto import SecretBox, secret_box

DIGEST = "sha256:" + "e" * 64


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "outbound_allowed_networks": ["127.0.0.1/32"],
            "retry_schedule": [0.01, 0.01],
            "failure_threshold": 3,
            "poll_interval": 0.05,
            "http_total_timeout": 5,
        }
    )


@dataclass
class Scene:
    db: Database
    settings: Settings
    box: SecretBox
    repository: Repository
    reader: User
    admin: User

    async def notification(
        self, method: str, config: dict[str, Any], event: str = "repo_push"
    ) -> Notification:
        async with self.db.write() as s:
            notification = Notification(
                uuid=str(uuid.uuid4()),
                repository_id=self.repository.id,
                event=event,
                method=method,
                config=get_method(method).seal(config, self.box),
                event_config={},
            )
            s.add(notification)
        return notification

    async def push(self, tag: str = "latest") -> None:
        kind = get_event_kind("repo_push")
        payload = kind.build_payload(
            repository_ref(self.repository, self.settings), {"updated_tags": {tag: DIGEST}}
        )
        async with self.db.write() as s:
            await record_event(s, self.repository, kind, payload, source="test")

    async def rows(self, model: Any) -> list[Any]:
        async with self.db.read() as s:
            return list(await s.scalars(select(model).order_by(model.id)))


@pytest.fixture
async def scene(database: Database, worker_settings: Settings) -> Scene:
    async with database.write() as s:
        admin = await accounts.create_user(s, "admin", email="admin@example.com")
        reader = await accounts.create_user(s, "reader")
        await accounts.create_organization(s, "acme", admins=[admin])
        repo = await accounts.create_repository(s, "acme/app")
        await accounts.grant(s, repo, Role.READ, user=reader)
    return Scene(database, worker_settings, secret_box(worker_settings), repo, reader, admin)
