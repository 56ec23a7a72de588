"""Migration 0012 (a source's sealed webhook secret) down and up again on both databases, with rows in
the table: nothing else is lost, and the column is back, empty, afterwards."""

from __future__ import annotations

from alembic import command
from cryptography.fernet import Fernet
from sqlalchemy import Connection, inspect, select, text

from regnotify import accounts
from regnotify.accounts.tokens import set_webhook_secret
from regnotify.db import Database, migrate, migration_is_current
from regnotify.db.migrate import alembic_config, current_revision
from regnotify.db.models import ApiToken, Organization
from regnotify.runtime.crypto import SecretBox


def _downgrade(connection: Connection, url: str, revision: str) -> None:
    config = alembic_config(url)
    config.attributes["connection"] = connection
    command.downgrade(config, revision)


def _token_columns(connection: Connection) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns("api_tokens")}


async def test_the_webhook_secret_column_goes_and_comes_back(database: Database) -> None:
    box = SecretBox(Fernet.generate_key())
    async with database.write() as session:
        issued = await accounts.issue_token(session, name="github", namespaces=["acme"])
        await set_webhook_secret(session, issued.id, box)
        await accounts.create_organization(session, "acme", created_by_token_id=issued.id)

    engine = database.engine
    try:
        async with engine.begin() as connection:
            url = engine.url.render_as_string(hide_password=False)
            await connection.run_sync(_downgrade, url, "0011")
        assert await current_revision(engine) == "0011"
        async with engine.connect() as connection:
            assert "webhook_secret" not in await connection.run_sync(_token_columns)
            rows = await connection.execute(text("SELECT id, name, namespaces FROM api_tokens"))
            (token_id, name, _namespaces), *rest = rows.all()
            assert (token_id, name, rest) == (issued.id, "github", [])
            created_by = await connection.scalar(text("SELECT created_by_token_id FROM organizations"))
            assert created_by == issued.id  # the table was not copied (which would null this on SQLite)
    finally:
        await migrate(engine)

    assert await migration_is_current(engine)
    async with database.read() as session:
        token = await session.scalar(select(ApiToken))
        organization = await session.scalar(select(Organization))
    assert token is not None and token.webhook_secret is None and token.namespaces == ["acme"]
    assert organization is not None and organization.created_by_token_id == issued.id
