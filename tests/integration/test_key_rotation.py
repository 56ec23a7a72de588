"""Resealing every stored secret (notification configs, sources' webhook secrets) with the first key,
on both databases; all or nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from regnotify import accounts
from regnotify.accounts.tokens import find_source, open_webhook_secret, set_webhook_secret
from regnotify.db import Database
from regnotify.db.models import ApiToken, Notification
from regnotify.methods import get_method
from regnotify.notifications.key_rotation import KeysMissing, reseal_all
from regnotify.runtime.crypto import SecretBox

OLD, NEW, LOST = (Fernet.generate_key().decode() for _ in range(3))
WEBHOOK = {"url": "https://hooks.example.com/x?token=abc", "secret": "whsec_" + "A" * 32}
SLACK = {"url": "https://hooks.slack.com/services/T0/B0/XYZ"}
EMAIL = {"email": "a@b.c"}


async def store(database: Database, configs: list[tuple[str, dict[str, Any], str]]) -> None:
    async with database.write() as session:
        await accounts.create_user(session, "acme")
        repository = await accounts.create_repository(session, "acme/app")
        for method, config, key in configs:
            session.add(
                Notification(
                    uuid=str(uuid.uuid4()),
                    repository_id=repository.id,
                    event="repo_push",
                    method=method,
                    config=get_method(method).seal(config, SecretBox(key)),
                    event_config={},
                )
            )


async def configs(database: Database) -> list[dict[str, Any]]:
    async with database.read() as session:
        return [n.config for n in await session.scalars(select(Notification).order_by(Notification.id))]


async def test_every_secret_opens_with_the_new_key_alone_afterwards(database: Database) -> None:
    await store(database, [("webhook", WEBHOOK, OLD), ("slack", SLACK, OLD), ("email", EMAIL, OLD)])
    async with database.write() as session:
        report = await reseal_all(session, SecretBox(f"{NEW},{OLD}"))
    assert (report.notifications, report.values) == (2, 3)

    new_only = SecretBox(NEW)
    webhook, slack, stored_email = await configs(database)
    assert get_method("webhook").unseal(webhook, new_only) == WEBHOOK
    assert get_method("slack").unseal(slack, new_only) == SLACK
    assert stored_email == EMAIL
    with pytest.raises(ValueError):
        get_method("webhook").unseal(webhook, SecretBox(OLD))


async def test_a_secret_no_key_opens_stops_everything(database: Database) -> None:
    await store(database, [("webhook", WEBHOOK, OLD), ("slack", SLACK, LOST)])
    before = await configs(database)
    with pytest.raises(KeysMissing, match="1 notification") as raised:
        async with database.write() as session:
            await reseal_all(session, SecretBox(f"{NEW},{OLD}"))
    assert "acme/app" in str(raised.value) and "add the key" in str(raised.value)
    assert await configs(database) == before  # nothing rewritten, not even the one that opened


async def source_with_secret(database: Database, key: str) -> tuple[int, str]:
    """A source whose webhook secret is sealed with ``key``: its id and the secret in clear."""
    async with database.write() as session:
        issued = await accounts.issue_token(session, name="github", namespaces=["acme"])
        secret = await set_webhook_secret(session, issued.id, SecretBox(key))
    return issued.id, secret


async def stored_source(database: Database, source_id: int) -> ApiToken:
    async with database.read() as session:
        source = await find_source(session, source_id)
    assert source is not None
    return source


async def test_sources_webhook_secrets_are_resealed_too(database: Database) -> None:
    await store(database, [("webhook", WEBHOOK, OLD)])
    source_id, secret = await source_with_secret(database, OLD)
    async with database.write() as session:
        report = await reseal_all(session, SecretBox(f"{NEW},{OLD}"))
    assert (report.notifications, report.sources, report.values) == (1, 1, 3)

    source = await stored_source(database, source_id)
    assert open_webhook_secret(source, SecretBox(NEW)) == secret
    with pytest.raises(ValueError):
        open_webhook_secret(source, SecretBox(OLD))


async def test_a_source_secret_no_key_opens_stops_everything(database: Database) -> None:
    await store(database, [("webhook", WEBHOOK, OLD)])
    source_id, _ = await source_with_secret(database, LOST)
    before = (await configs(database), (await stored_source(database, source_id)).webhook_secret)
    with pytest.raises(KeysMissing, match=f"source {source_id} \\(github\\)") as raised:
        async with database.write() as session:
            await reseal_all(session, SecretBox(f"{NEW},{OLD}"))
    assert "add the key" in str(raised.value)
    after = (await configs(database), (await stored_source(database, source_id)).webhook_secret)
    assert after == before  # the notification that opened was not rewritten either
