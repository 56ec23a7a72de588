"""Recording tag expirations through the API."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from regnotify.db import Database
from regnotify.db.models import TagExpiration

from .conftest import World
from .test_notifications_api import assert_quay_error

URL = "/api/v1/repository/acme/app/tag/v1/expiration"


async def test_set_and_clear(client: httpx.AsyncClient, world: World, database: Database) -> None:
    response = await client.put(
        URL, json={"expires_at": "2030-01-02T03:04:05Z"}, headers=world.headers("service")
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"tag": "v1", "expires_at": "2030-01-02T03:04:05+00:00"}
    async with database.read() as session:
        (row,) = (await session.scalars(select(TagExpiration))).all()
    assert row.tag == "v1" and row.expires_at.year == 2030
    cleared = await client.put(URL, json={"expires_at": None}, headers=world.headers("writer"))
    assert cleared.status_code == 200 and cleared.json()["expires_at"] is None
    async with database.read() as session:
        assert (await session.scalars(select(TagExpiration))).all() == []


async def test_bad_input_and_permissions(client: httpx.AsyncClient, world: World) -> None:
    headers = world.headers("writer")
    assert_quay_error(
        await client.put(URL, json={"expires_at": "2030-01-02T03:04:05"}, headers=headers), 400, "timezone"
    )
    assert_quay_error(await client.put(URL, json={"expires_at": "soon"}, headers=headers), 400)
    bad_tag = "/api/v1/repository/acme/app/tag/.hidden/expiration"
    assert_quay_error(
        await client.put(bad_tag, json={"expires_at": None}, headers=headers), 400, "invalid tag"
    )
    assert_quay_error(await client.put(URL, json={"expires_at": None}, headers=world.headers("reader")), 403)
