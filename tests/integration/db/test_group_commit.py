"""Group commit: concurrent work shares transactions, answers wait for the commit, and a failing
piece fails only its own caller."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db import Database
from regnotify.db.group_commit import GroupCommit
from regnotify.db.models import Organization


def add(name: str):  # type: ignore[no-untyped-def]
    async def work(session: AsyncSession) -> str:
        session.add(Organization(name=name))
        await session.flush()
        return name

    return work


async def names(database: Database) -> list[str]:
    async with database.read() as session:
        return sorted(await session.scalars(select(Organization.name)))


async def test_concurrent_work_shares_transactions(database: Database) -> None:
    group = GroupCommit(database, max_batch=8)
    results = await asyncio.gather(*(group.run(add(f"org{n:02}")) for n in range(40)))
    assert results == [f"org{n:02}" for n in range(40)]  # each caller gets its own result
    assert await names(database) == results
    assert group.pieces == 40
    assert 5 <= group.transactions < 40  # batches of at most 8; the first one may be alone


async def test_one_piece_alone_is_one_transaction(database: Database) -> None:
    group = GroupCommit(database)
    assert await group.run(add("solo")) == "solo"
    assert (group.transactions, group.pieces) == (1, 1)


async def test_a_failing_piece_fails_only_its_caller(database: Database) -> None:
    group = GroupCommit(database)

    async def clash(session: AsyncSession) -> str:
        session.add(Organization(name="taken"))
        await session.flush()  # the unique name is already used: IntegrityError
        return "never"

    async with database.write() as session:
        session.add(Organization(name="taken"))
    outcomes = await asyncio.gather(
        group.run(add("a")), group.run(clash), group.run(add("b")), return_exceptions=True
    )
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], Exception) and "UNIQUE" in str(outcomes[1]).upper()
    assert await names(database) == ["a", "b", "taken"]


async def test_nothing_is_answered_before_the_commit(database: Database) -> None:
    group = GroupCommit(database)
    seen: list[int] = []

    async def count_then_add(session: AsyncSession) -> int:
        session.add(Organization(name="counted"))
        await session.flush()
        async with database.read() as other:  # another connection: the row is not committed yet
            seen.append(int(await other.scalar(select(func.count()).select_from(Organization)) or 0))
        return 1

    assert await group.run(count_then_add) == 1
    assert seen == [0] and await names(database) == ["counted"]


async def test_stopping_fails_the_waiting_callers(database: Database) -> None:
    group = GroupCommit(database)
    started = asyncio.Event()

    async def slow(session: AsyncSession) -> None:
        started.set()
        await asyncio.sleep(30)

    first = asyncio.ensure_future(group.run(slow))
    await started.wait()
    second = asyncio.ensure_future(group.run(add("late")))
    await asyncio.sleep(0)
    assert group._runner is not None
    group._runner.cancel()
    for caller in (first, second):
        with pytest.raises(RuntimeError, match="stopping"):
            await caller
