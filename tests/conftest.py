"""Shared fixtures: storage tests run on SQLite, and on PostgreSQL when REGNOTIFY_TEST_POSTGRES_URL is set."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from regnotify.config import Settings, async_driver_url
from regnotify.db import Database, migrate
from regnotify.db.models import Base

POSTGRES_ENV = "REGNOTIFY_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI") == "true"


def require_real_part(available: bool, reason: str) -> None:
    """Skip with a reason when a real part is missing, except in CI, where that is a failure."""
    if not available:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


class PostgresTemplate:
    """One schema per test session on the given server, migrated once and truncated per test."""

    def __init__(self, server_url: str) -> None:
        self.schema = f"regnotify_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        base = async_driver_url(server_url)
        joiner = "&" if "?" in base else "?"
        self.url = f"{base}{joiner}options=-csearch_path%3D{self.schema}"
        self._server_url = base

    async def _admin(self, statement: str) -> None:
        db = Database(self._server_url)
        try:
            async with db.engine.begin() as connection:
                await connection.execute(text(statement))
        finally:
            await db.dispose()

    def create(self) -> None:
        async def run() -> None:
            await self._admin(f'CREATE SCHEMA "{self.schema}"')
            db = Database(self.url)
            try:
                await migrate(db.engine)
            finally:
                await db.dispose()

        asyncio.run(run())

    def drop(self) -> None:
        asyncio.run(self._admin(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    async def reset(self, db: Database) -> None:
        tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
        async with db.engine.begin() as connection:
            await connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"

    async def run() -> None:
        db = Database(f"sqlite+aiosqlite:///{path}")
        try:
            await migrate(db.engine)
        finally:
            await db.dispose()

    asyncio.run(run())
    return path


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[PostgresTemplate | None]:
    server_url = os.environ.get(POSTGRES_ENV)
    if not server_url:
        yield None
        return
    template = PostgresTemplate(server_url)
    template.create()  # an unreachable server fails here: these tests never skip once the URL is set
    yield template
    template.drop()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine_name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database(
    engine_name: str,
    tmp_path: Path,
    sqlite_template: Path,
    postgres_template: PostgresTemplate | None,
) -> AsyncIterator[Database]:
    """A migrated, empty database on the engine of this test's parameter."""
    if engine_name == "sqlite":
        path = tmp_path / "regnotify.db"
        shutil.copyfile(sqlite_template, path)
        db = Database(f"sqlite+aiosqlite:///{path}")
    else:
        require_real_part(
            postgres_template is not None, f"{POSTGRES_ENV} is not set, so PostgreSQL tests cannot run"
        )
        assert postgres_template is not None
        db = Database(postgres_template.url)
        await postgres_template.reset(db)
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
def settings(tmp_path: Path, database: Database) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database.url,
        public_base_url="https://regnotify.test",
        registry_host="registry.test:5000",
        secret_key=Fernet.generate_key().decode(),
        chat_allowed_hosts=[],
        outbound_allowed_networks=[],
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Say how many tests ran on each engine, so a CI log shows PostgreSQL was really used."""
    counts: dict[str, dict[str, int]] = {}
    for outcome in ("passed", "failed", "skipped", "error"):
        for report in terminalreporter.stats.get(outcome, []):
            node = getattr(report, "nodeid", "")
            for engine in ("sqlite", "postgresql"):
                if f"[{engine}" in node or f"-{engine}]" in node or f"-{engine}-" in node:
                    engine_counts = counts.setdefault(engine, {})
                    engine_counts[outcome] = engine_counts.get(outcome, 0) + 1
    for engine, engine_counts in sorted(counts.items()):
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(engine_counts.items()))
        terminalreporter.write_line(f"storage tests on {engine}: {summary}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``postgres_only`` test what only PostgreSQL has: their SQLite variant is not collected."""
    keep, drop = [], []
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if item.get_closest_marker("postgres_only") and params.get("engine_name") == "sqlite":
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
