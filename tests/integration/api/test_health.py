"""``/healthz`` (the process answers) and ``/readyz`` (the database answers, its schema is current)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from alembic.script import ScriptDirectory
from cryptography.fernet import Fernet
from sqlalchemy import text

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.migrate import alembic_config, head_revision

from .test_notifications_api import assert_quay_error


@asynccontextmanager
async def client_on(database: Database, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        Settings(data_dir=tmp_path, secret_key=Fernet.generate_key().decode()), database=database
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as http:
            yield http


async def test_ready_when_the_database_answers_and_is_migrated(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}


async def test_not_ready_while_the_schema_is_behind(database: Database, tmp_path: Path) -> None:
    head = head_revision()
    assert head is not None
    previous = ScriptDirectory.from_config(alembic_config("sqlite://")).get_revision(head).down_revision
    assert isinstance(previous, str)
    async with database.write() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": previous})
    try:
        async with client_on(database, tmp_path) as http:
            response = await http.get("/readyz")
            assert (await http.get("/healthz")).status_code == 200  # alive all the same
    finally:  # the PostgreSQL schema is shared by the session's tests
        async with database.write() as session:
            await session.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": head})
    assert_quay_error(response, 503, "schema is not current", "regnotify migrate")
    assert response.json()["error_type"] == "service_unavailable"


async def test_not_ready_on_an_empty_database(tmp_path: Path) -> None:
    empty = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    try:
        async with client_on(empty, tmp_path) as http:
            assert_quay_error(await http.get("/readyz"), 503, "schema is not current")
    finally:
        await empty.dispose()


async def test_not_ready_when_the_database_is_unreachable(tmp_path: Path) -> None:
    for url in (
        "postgresql+psycopg://postgres@127.0.0.1:1/none",  # nothing listens on port 1
        f"sqlite+aiosqlite:///{tmp_path}",  # a directory, not a database file
    ):
        unreachable = Database(url)
        try:
            async with client_on(unreachable, tmp_path) as http:
                response = await http.get("/readyz")
                assert (await http.get("/healthz")).status_code == 200
        finally:
            await unreachable.dispose()
        assert_quay_error(response, 503, "database is unreachable")
