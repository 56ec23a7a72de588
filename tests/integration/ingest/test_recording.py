"""Recording events: one transaction with its deliveries, idempotent under concurrent re-posts."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from regnotify import accounts
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, Event, Notification, Repository
from regnotify.events import get_event_kind
from regnotify.ingest import EventConflict, record_event, repository_ref
from regnotify.ingest.pushes import PushToRecord, record_tag_pushes

DIGEST = "sha256:" + "d" * 64


async def setup_repository(database: Database) -> Repository:
    async with database.write() as s:
        await accounts.create_organization(s, "acme")
        repo = await accounts.create_repository(s, "acme/app")
        for index in range(3):
            s.add(
                Notification(
                    uuid=f"00000000-0000-0000-0000-00000000000{index}",
                    repository_id=repo.id,
                    event="repo_push",
                    method="email",
                    config={"email": "ops@example.com"},
                    event_config={},
                    enabled=index != 2,
                )
            )
    return repo


async def test_concurrent_reposts_of_one_id_store_one_event(database: Database, settings: Settings) -> None:
    repo = await setup_repository(database)
    kind = get_event_kind("repo_push")
    payload = kind.build_payload(repository_ref(repo, settings), {"updated_tags": {"latest": DIGEST}})

    async def post() -> bool:
        async with database.write() as s:
            recorded = await record_event(s, repo, kind, payload, source="test", external_id="same-id")
            return recorded.duplicate

    outcomes = await asyncio.gather(*(post() for _ in range(10)))
    assert sorted(outcomes) == [False] + [True] * 9
    async with database.read() as s:
        assert await s.scalar(select(func.count()).select_from(Event)) == 1
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 2  # two enabled


async def test_a_failed_transaction_leaves_nothing(database: Database, settings: Settings) -> None:
    repo = await setup_repository(database)
    kind = get_event_kind("repo_push")
    payload = kind.build_payload(repository_ref(repo, settings), {"updated_tags": {"latest": DIGEST}})
    with pytest.raises(RuntimeError):
        async with database.write() as s:
            await record_event(s, repo, kind, payload, source="test")
            raise RuntimeError("crash after matching, before commit")
    async with database.read() as s:
        assert await s.scalar(select(func.count()).select_from(Event)) == 0
        assert await s.scalar(select(func.count()).select_from(Delivery)) == 0


async def test_reused_id_for_another_event_conflicts(database: Database, settings: Settings) -> None:
    repo = await setup_repository(database)
    kind = get_event_kind("repo_push")
    ref = repository_ref(repo, settings)
    async with database.write() as s:
        await record_event(
            s,
            repo,
            kind,
            kind.build_payload(ref, {"updated_tags": {"a": DIGEST}}),
            source="t",
            external_id="x",
        )
    with pytest.raises(EventConflict):
        async with database.write() as s:
            await record_event(
                s,
                repo,
                kind,
                kind.build_payload(ref, {"updated_tags": {"b": DIGEST}}),
                source="t",
                external_id="x",
            )


async def test_concurrent_first_pushes_of_one_tag(database: Database, settings: Settings) -> None:
    """The first pushes of a new tag race to insert its row: equal digests notify once, and
    different digests are each judged against the one before (so each notifies), never dropped."""
    repo = await setup_repository(database)

    async def push(tag: str, digest: str) -> bool:
        async with database.write() as s:
            (outcome,) = await record_tag_pushes(
                s, [PushToRecord(repo.full_name, tag, digest, "test")], settings=settings
            )
            return outcome.accepted

    same = await asyncio.gather(*(push("same", DIGEST) for _ in range(8)))
    assert sorted(same) == [False] * 7 + [True]
    different = await asyncio.gather(*(push("different", "sha256:" + str(n) * 64) for n in range(1, 9)))
    assert different == [True] * 8
    async with database.read() as s:
        assert await s.scalar(select(func.count()).select_from(Event)) == 9
