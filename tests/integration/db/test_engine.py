"""The engine on both databases: migrations, SQLite pragmas, write locking, UTC timestamps."""

from __future__ import annotations

import asyncio

from sqlalchemy import select, text

from regnotify.db import Database, migrate, migration_is_current
from regnotify.db.models import Organization


async def test_migrations_are_current_and_idempotent(database: Database) -> None:
    assert await migration_is_current(database.engine)
    await migrate(database.engine)  # running again changes nothing and does not fail
    assert await migration_is_current(database.engine)


async def test_sqlite_pragmas(database: Database) -> None:
    if database.dialect != "sqlite":
        return
    async with database.read() as session:
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
        assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() == 15000


async def test_foreign_keys_are_enforced(database: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    from regnotify.db.models import Team

    try:
        async with database.write() as session:
            session.add(Team(organization_id=424242, name="ghost", role="member"))
        raised = False
    except IntegrityError:
        raised = True
    assert raised, "a team pointing at a missing organization must be refused"


async def test_concurrent_writers_do_not_lose_updates(database: Database) -> None:
    """Read-then-write in parallel transactions: BEGIN IMMEDIATE (SQLite) serialises them."""
    async with database.write() as session:
        session.add(Organization(name="counter"))

    async def add_one(index: int) -> None:
        async with database.write() as session:
            if database.dialect == "postgresql":
                await session.execute(text("LOCK TABLE organizations IN EXCLUSIVE MODE"))
            count = len((await session.scalars(select(Organization))).all())
            await asyncio.sleep(0.01)
            session.add(Organization(name=f"org{count}-{index}"))

    await asyncio.gather(*(add_one(i) for i in range(8)))
    async with database.read() as session:
        names = sorted((await session.scalars(select(Organization.name))).all())
    counts = sorted(int(name[3:].split("-")[0]) for name in names if name != "counter")
    assert counts == list(range(1, 9)), names


async def test_timestamps_come_back_as_utc(database: Database) -> None:
    async with database.write() as session:
        org = Organization(name="timely")
        session.add(org)
    async with database.read() as session:
        stored = await session.scalar(select(Organization).where(Organization.name == "timely"))
    assert stored is not None
    assert stored.created_at.utcoffset() is not None
    assert stored.created_at.utcoffset().total_seconds() == 0
