"""Tag pushes stored set-wise: judged in list order as if one by one, a fixed number of statements
whatever the batch's size, and a push that cannot be used spoils nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from regnotify import accounts
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, Event, Notification, Repository, TagPush
from regnotify.db.types import utcnow
from regnotify.ingest import EventConflict
from regnotify.ingest.pushes import (
    EARLIER_EVENTS,
    LOCK_TAG_ROWS,
    PushOutcome,
    PushToRecord,
    record_tag_pushes,
)
from regnotify.ingest.recording import ENABLED_NOTIFICATIONS


def digest(char: str) -> str:
    return "sha256:" + char * 64


def push(tag: str, char: str, event_id: str | None = None, repository: str = "acme/app") -> PushToRecord:
    return PushToRecord(repository, tag, digest(char), "registry:test", external_id=event_id)


async def setup(database: Database) -> Repository:
    async with database.write() as s:
        await accounts.create_organization(s, "acme")
        repo = await accounts.create_repository(s, "acme/app")
        s.add(
            Notification(
                uuid="00000000-0000-0000-0000-000000000001",
                repository_id=repo.id,
                event="repo_push",
                method="webhook",
                config={"url": "https://hooks.example.com/a"},
                event_config={},
                enabled=True,
            )
        )
    return repo


async def record(database: Database, settings: Settings, pushes: list[PushToRecord]) -> list[PushOutcome]:
    async with database.write() as s:
        return await record_tag_pushes(s, pushes, settings=settings)


def kinds(outcomes: list[PushOutcome]) -> list[str]:
    return [
        "accepted" if o.accepted else "duplicate" if o.duplicate else type(o.error).__name__ for o in outcomes
    ]


async def count(database: Database, model: Any) -> int:
    async with database.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_a_batch_is_judged_in_order_as_if_one_by_one(database: Database, settings: Settings) -> None:
    await setup(database)
    outcomes = await record(
        database,
        settings,
        [
            push("v1", "a"),  # first push of v1: notifies
            push("v1", "a"),  # same digest again within the window: once
            push("v1", "b"),  # another digest: notifies, judged against the one before
            push("v1", "a"),  # back to a: the tag's last digest was b, so it notifies
            push("v2", "a"),  # another tag
        ],
    )
    assert kinds(outcomes) == ["accepted", "duplicate", "accepted", "accepted", "accepted"]
    assert await count(database, Event) == 4
    assert await count(database, Delivery) == 4  # one webhook each
    async with database.read() as s:
        rows = dict((await s.execute(select(TagPush.tag, TagPush.digest))).all())
    assert rows == {"v1": digest("a"), "v2": digest("a")}
    # the next batch is judged against what this one left
    later = await record(database, settings, [push("v1", "a"), push("v2", "c")])
    assert kinds(later) == ["duplicate", "accepted"]


async def test_the_window_passes(database: Database, settings: Settings) -> None:
    await setup(database)
    assert kinds(await record(database, settings, [push("v1", "a")])) == ["accepted"]
    async with database.write() as s:
        past = utcnow() - timedelta(seconds=settings.push_window_seconds + 1)
        await s.execute(update(TagPush).values(notified_at=past))
    assert kinds(await record(database, settings, [push("v1", "a"), push("v1", "a")])) == [
        "accepted",
        "duplicate",
    ]


async def test_event_ids_seen_before(database: Database, settings: Settings) -> None:
    await setup(database)
    first = await record(database, settings, [push("v1", "a", "e1"), push("v2", "a", "e2")])
    assert kinds(first) == ["accepted", "accepted"]
    async with database.write() as s:  # the window forgets, so only the event id can tell
        await s.execute(update(TagPush).values(notified_at=utcnow() - timedelta(days=1)))
    again = await record(
        database,
        settings,
        [
            push("v1", "a", "e1"),  # the same event posted again: once
            push("v2", "b", "e2"),  # the id of another event: refused, and only this one
            push("v3", "a", "e3"),  # new
            push("v4", "a", "e3"),  # the same id twice in one batch, for another event: refused
        ],
    )
    assert kinds(again) == ["duplicate", "EventConflict", "accepted", "EventConflict"]
    assert isinstance(again[1].error, EventConflict) and "'e2' was already used" in str(again[1].error)
    assert await count(database, Event) == 3


async def test_a_push_that_cannot_be_used_leaves_the_others(database: Database, settings: Settings) -> None:
    await setup(database)
    outcomes = await record(
        database, settings, [push("v1", "a"), push("v1", "a", repository="not a name"), push("v2", "a")]
    )
    assert kinds(outcomes) == ["accepted", "InvalidName", "accepted"]
    # a repository seen for the first time is created, its namespace an organization of its own
    newcomer = await record(database, settings, [push("v1", "a", repository="newcomer/app")])
    assert kinds(newcomer) == ["accepted"]
    async with database.read() as s:
        assert await accounts.find_repository(s, "newcomer/app") is not None


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement.split()[0])

    engine = database.write_engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


async def test_a_batch_takes_the_same_statements_whatever_its_size(
    database: Database, settings: Settings
) -> None:
    await setup(database)
    await record(database, settings, [push("warm", "a")])
    with statements(database) as one:
        await record(database, settings, [push("solo", "a")])
    with statements(database) as many:
        await record(database, settings, [push(f"t{n}", "a") for n in range(40)])
    with statements(database) as repushes:  # the rows exist now: updated, not inserted
        await record(database, settings, [push(f"t{n}", "b") for n in range(40)])
    assert len(many) == len(one) and len(repushes) == len(one)
    assert await count(database, Event) == 82


@pytest.mark.parametrize(
    ("statement", "params"),
    [
        (LOCK_TAG_ROWS, {"repository_ids": [1, 2], "tags": ["a", "b"]}),
        (EARLIER_EVENTS, {"repository_ids": [1, 2], "external_ids": ["a", "b"]}),
        (ENABLED_NOTIFICATIONS, {"repository_ids": [1, 2], "kind": "repo_push"}),
    ],
    ids=["tag rows", "earlier events", "notifications"],
)
async def test_the_batch_reads_search_an_index(
    database: Database, statement: Any, params: dict[str, Any]
) -> None:
    """Each read looks rows up by index; a scan would grow with every tag and event ever stored."""
    if database.dialect != "sqlite":
        pytest.skip("reads SQLite's query plan; PostgreSQL's planner picks by table statistics")
    async with database.read() as s:
        connection = await s.connection()
        compiled = statement.params(**params).compile(
            dialect=connection.dialect, compile_kwargs={"literal_binds": True}
        )
        plan = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}")
        details = [row[3] for row in plan]
    assert any(line.startswith("SEARCH") for line in details), details
    assert not any(line.startswith("SCAN") for line in details), details


async def test_a_refused_push_moves_no_window_even_in_one_batch(
    database: Database, settings: Settings
) -> None:
    """Only stored pushes move a tag's window. The insert is what finds an event id taken, so the
    batch is judged again without the refused pushes: later pushes of their tags are judged against
    what the tag really held, and a new tag whose pushes were all refused leaves no row."""
    await setup(database)
    assert kinds(await record(database, settings, [push("v1", "a", "e1"), push("v2", "a", "e2")])) == [
        "accepted",
        "accepted",
    ]
    outcomes = await record(
        database,
        settings,
        [
            push("v1", "b", "e2"),  # e2 was another event: refused, v1 stays at a
            push("v1", "a", "e3"),  # so a again is a duplicate within the window
            push("v1", "b", "e4"),  # and b notifies, as it would have alone
            push("new", "c", "e1"),  # a new tag, refused: no row left for it
            push("v2", "d", "e2"),  # e2 again, for another event: refused, v2 stays at a
        ],
    )
    assert kinds(outcomes) == ["EventConflict", "duplicate", "accepted", "EventConflict", "EventConflict"]
    async with database.read() as s:
        rows = dict((await s.execute(select(TagPush.tag, TagPush.digest))).all())
        stored = [e.external_id for e in await s.scalars(select(Event).order_by(Event.id))]
    assert rows == {"v1": digest("b"), "v2": digest("a")}
    assert stored == ["e1", "e2", "e4"]
    assert await count(database, Delivery) == 3
    # the refused new tag's first real push notifies
    assert kinds(await record(database, settings, [push("new", "c", "e5")])) == ["accepted"]
