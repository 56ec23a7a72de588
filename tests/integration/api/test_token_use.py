"""When a token was last used is written at most once a minute, not on every request; a live token
is trusted for ``TOKEN_CACHE_SECONDS`` after it was checked."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from regnotify.accounts import revoke_token
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import ApiToken
from regnotify.db.types import utcnow

from .conftest import World
from .test_events_api import DIGEST, post


async def last_used(database: Database) -> object:
    async with database.read() as session:
        return await session.scalar(select(ApiToken.last_used_at).where(ApiToken.name == "writer"))


async def test_last_used_is_written_once_a_minute(
    client: httpx.AsyncClient, world: World, database: Database, settings: Settings
) -> None:
    settings.token_cache_seconds = 0  # each request reads the token's row, as a new process would
    assert await last_used(database) is None
    for tag in ("a", "b"):
        response = await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {tag: DIGEST}}})
        assert response.status_code == 201, response.text
        if tag == "a":
            first = await last_used(database)
            assert first is not None
    assert await last_used(database) == first  # the second call, a moment later, did not write

    async with database.write() as session:
        earlier = utcnow() - timedelta(minutes=2)
        await session.execute(update(ApiToken).where(ApiToken.name == "writer").values(last_used_at=earlier))
    response = await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {"c": DIGEST}}})
    assert response.status_code == 201
    latest = await last_used(database)
    assert latest is not None and latest > earlier + timedelta(minutes=1)


@pytest.mark.parametrize("cache_seconds", [0.5, 0])
async def test_a_revoked_token_works_for_the_cache_time_at_most(
    client: httpx.AsyncClient, world: World, database: Database, settings: Settings, cache_seconds: float
) -> None:
    settings.token_cache_seconds = cache_seconds
    writer = world.headers("writer")

    async def status() -> int:
        return (await client.get("/api/v1/repository/acme/app/events", headers=writer)).status_code

    assert await status() == 200
    async with database.write() as session:
        token_id = await session.scalar(select(ApiToken.id).where(ApiToken.name == "writer"))
        assert token_id is not None and await revoke_token(session, token_id)
    if cache_seconds:
        assert await status() == 200  # checked a moment ago: still trusted in this process
        await asyncio.sleep(cache_seconds + 0.1)
    refused = await client.get("/api/v1/repository/acme/app/events", headers=writer)
    assert refused.status_code == 401 and "revoked" in refused.json()["detail"]
    assert await status() == 401  # a refused token is never cached: each try is looked up again
