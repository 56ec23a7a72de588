"""When a token was last used is written at most once a minute, not on every request."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import select, update

from regnotify.db import Database
from regnotify.db.models import ApiToken
from regnotify.db.types import utcnow

from .conftest import World
from .test_events_api import DIGEST, post


async def last_used(database: Database) -> object:
    async with database.read() as session:
        return await session.scalar(select(ApiToken.last_used_at).where(ApiToken.name == "writer"))


async def test_last_used_is_written_once_a_minute(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
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
