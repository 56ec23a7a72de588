"""SQLite writers take turns: a process writing back to back does not starve another one's writer."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from regnotify.db import Database
from regnotify.db.engine import _lock_file
from regnotify.db.models import Organization

# Another process that writes for ever, each transaction holding the writer lock 5 ms on the CPU.
BUSY_WRITER = """
import asyncio, sys
from regnotify.db import Database
from regnotify.db.models import Organization

async def main() -> None:
    db, n = Database(sys.argv[1]), 0
    loop = asyncio.get_running_loop()
    while True:
        async with db.write() as session:
            session.add(Organization(name=f"busy{n}"))
            await session.flush()
            started = loop.time()
            while loop.time() - started < 0.005:
                pass
        n += 1

asyncio.run(main())
"""


async def busy_rows(database: Database) -> int:
    async with database.read() as session:
        query = select(func.count()).select_from(Organization).where(Organization.name.like("busy%"))
        return int(await session.scalar(query) or 0)


async def test_another_processs_back_to_back_writes_leave_turns(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("SQLite's single writer only; PostgreSQL writers run side by side")
    busy = await asyncio.create_subprocess_exec(sys.executable, "-c", BUSY_WRITER, database.url)
    waits = []
    try:
        while await busy_rows(database) < 10:
            assert busy.returncode is None, "the busy writer died"
            await asyncio.sleep(0.01)
        for attempt in range(8):
            before = await busy_rows(database)
            async with database.write() as session:
                session.add(Organization(name=f"turn{attempt}"))
            waits.append(await busy_rows(database) - before)
            await asyncio.sleep(0.02)
    finally:
        busy.kill()
        await busy.wait()
    # without turns, SQLite's busy handler (sleeps of up to 100 ms) lost to the busy process for
    # dozens of its transactions now and then
    assert max(waits) <= 5, f"busy transactions committed while one write waited: {waits}"


def test_the_lock_file_sits_beside_the_database(tmp_path: Path) -> None:
    beside = tmp_path / "regnotify.db-writers.lock"
    assert _lock_file(f"sqlite+aiosqlite:///{tmp_path}/regnotify.db") == beside
    assert _lock_file("sqlite+aiosqlite://") is None
    assert _lock_file("sqlite+aiosqlite:///:memory:") is None
