"""Group commit: concurrent items share transactions (each handler gets its items in one call),
answers wait for the commit, and a failing item fails only its own caller."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db import Database
from regnotify.db.group_commit import GroupCommit
from regnotify.db.models import Organization


async def add(session: AsyncSession, names: list[str]) -> list[str]:
    """The handler of most tests: one organization per item."""
    session.add_all([Organization(name=name) for name in names])
    await session.flush()
    return names


async def names(database: Database) -> list[str]:
    async with database.read() as session:
        return sorted(await session.scalars(select(Organization.name)))


async def test_concurrent_work_shares_transactions(database: Database) -> None:
    group = GroupCommit(database, max_batch=8)
    calls: list[int] = []

    async def counted(session: AsyncSession, names: list[str]) -> list[str]:
        calls.append(len(names))
        return await add(session, names)

    results = await asyncio.gather(*(group.run(counted, f"org{n:02}") for n in range(40)))
    assert results == [f"org{n:02}" for n in range(40)]  # each caller gets its own result
    assert await names(database) == results
    assert group.pieces == 40
    assert 5 <= group.transactions < 40  # batches of at most 8; the first one may be alone
    assert len(calls) == group.transactions and sum(calls) == 40  # one handler call per transaction


async def test_each_handler_gets_its_own_items_in_order(database: Database) -> None:
    group = GroupCommit(database)

    async def shout(session: AsyncSession, words: list[str]) -> list[str]:
        return [word.upper() for word in words]

    results = await asyncio.gather(
        *(group.run(add, f"o{n}") if n % 2 else group.run(shout, f"w{n}") for n in range(6))
    )
    assert results == ["W0", "o1", "W2", "o3", "W4", "o5"]
    assert await names(database) == ["o1", "o3", "o5"]


async def test_a_handler_must_answer_each_item(database: Database) -> None:
    group = GroupCommit(database)

    async def forgetful(session: AsyncSession, items: list[str]) -> list[str]:
        return []

    with pytest.raises(RuntimeError, match="returned 0 results for 1"):
        await group.run(forgetful, "x")


async def test_one_piece_alone_is_one_transaction(database: Database) -> None:
    group = GroupCommit(database)
    assert await group.run(add, "solo") == "solo"
    assert (group.transactions, group.pieces) == (1, 1)


async def test_a_failing_piece_fails_only_its_caller(database: Database) -> None:
    group = GroupCommit(database)

    async with database.write() as session:
        session.add(Organization(name="taken"))
    outcomes = await asyncio.gather(
        group.run(add, "a"), group.run(add, "taken"), group.run(add, "b"), return_exceptions=True
    )
    assert outcomes[0] == "a" and outcomes[2] == "b"
    assert isinstance(outcomes[1], Exception) and "UNIQUE" in str(outcomes[1]).upper()
    assert await names(database) == ["a", "b", "taken"]


async def test_nothing_is_answered_before_the_commit(database: Database) -> None:
    group = GroupCommit(database)
    seen: list[int] = []

    async def count_then_add(session: AsyncSession, items: list[str]) -> list[int]:
        session.add(Organization(name="counted"))
        await session.flush()
        async with database.read() as other:  # another connection: the row is not committed yet
            seen.append(int(await other.scalar(select(func.count()).select_from(Organization)) or 0))
        return [1]

    assert await group.run(count_then_add, "counted") == 1
    assert seen == [0] and await names(database) == ["counted"]


async def test_stopping_fails_the_waiting_callers(database: Database) -> None:
    group = GroupCommit(database)
    started = asyncio.Event()

    async def slow(session: AsyncSession, items: list[str]) -> list[None]:
        started.set()
        await asyncio.sleep(30)
        return [None]

    first = asyncio.ensure_future(group.run(slow, "slow"))
    await started.wait()
    second = asyncio.ensure_future(group.run(add, "late"))
    await asyncio.sleep(0)
    assert group._runner is not None
    group._runner.cancel()
    for caller in (first, second):
        with pytest.raises(RuntimeError, match="stopping"):
            await caller
