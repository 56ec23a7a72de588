"""Tag pushes from any source, many at a time: the repository appears on its first event, and a
tag → digest pair seen again within the window notifies once.

``record_tag_pushes`` stores a list of pushes (the registry receiver's pushes of every envelope in
a shared transaction) in a handful of statements whatever the list's length: one locking read and
at most one insert and one update of the tags' rows, one insert of the events, one of their
deliveries. It judges the pushes in list order, exactly as if each had been recorded alone, one
after the other: a later push of a tag is judged against the earlier one. Only a push that is
stored moves its tag's window: one refused (its event id was used for another event, its payload
cannot be built) or counted a duplicate changes nothing. The insert of the events is what finds an
event id stored before (or by a concurrent request), so when it skips one, the batch is judged
again knowing it, and the few statements that takes set the rest right (a read of the earlier
events; the events and tag rows of pushes no longer stored deleted, those of pushes now stored
inserted). Its statements are Core statements built once, run on the session's connection (the ORM
layer would cost more than they do).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from regnotify import accounts
from regnotify.config import Settings
from regnotify.db.models import Delivery, Event, Repository, TagPush
from regnotify.db.types import utcnow
from regnotify.db.upsert import insert_unless_present
from regnotify.db.wakeup import announce
from regnotify.events import EventError, get_event_kind
from regnotify.ingest.matching import matching_notifications
from regnotify.ingest.recording import EventConflict, enabled_notifications, repository_ref
from regnotify.runtime.metrics import count_recorded_event

EVENTS = Event.__table__
DELIVERIES = Delivery.__table__
TAGS = TagPush.__table__

# The statements, built once (building one costs more than running it on a small batch).
# Rows by (repository, tag) pairs: both columns compared with IN, which searches the unique index on
# SQLite (a row-value IN scans the whole table there); the caller keeps only the pairs it asked for.
# On PostgreSQL that locks the other pairs of those repositories and tags too, all of the batch's.
LOCK_TAG_ROWS = (
    select(TAGS.c.id, TAGS.c.repository_id, TAGS.c.tag, TAGS.c.digest, TAGS.c.notified_at)
    .where(
        TAGS.c.repository_id.in_(bindparam("repository_ids", expanding=True)),
        TAGS.c.tag.in_(bindparam("tags", expanding=True)),
    )
    .order_by(TAGS.c.id)
    .with_for_update()
)
UPDATE_TAG_ROWS = (
    update(TAGS)
    .where(TAGS.c.id == bindparam("row_id"))
    .values(digest=bindparam("new_digest"), notified_at=bindparam("new_notified_at"))
)
EARLIER_EVENTS = select(EVENTS.c.repository_id, EVENTS.c.external_id, EVENTS.c.kind, EVENTS.c.payload).where(
    EVENTS.c.repository_id.in_(bindparam("repository_ids", expanding=True)),
    EVENTS.c.external_id.in_(bindparam("external_ids", expanding=True)),
)
INSERT_DELIVERIES = DELIVERIES.insert()
# Corrections, when the batch is judged again: events and fresh tag rows of pushes no longer stored.
DELETE_EVENTS = delete(EVENTS).where(EVENTS.c.id.in_(bindparam("event_ids", expanding=True)))
DELETE_TAG_ROWS = delete(TAGS).where(TAGS.c.id.in_(bindparam("row_ids", expanding=True)))


@cache
def _insert_tag_rows(dialect: str) -> Any:
    return insert_unless_present(dialect, TAGS, ["repository_id", "tag"]).returning(
        TAGS.c.id, TAGS.c.repository_id, TAGS.c.tag
    )


@cache
def _insert_events(dialect: str) -> Any:
    # an event id the source sent before (or a concurrent request is storing now: PostgreSQL waits
    # for that one and then skips ours) is skipped
    return insert_unless_present(dialect, EVENTS, ["repository_id", "external_id"]).returning(
        EVENTS.c.id, EVENTS.c.uuid
    )


@dataclass(frozen=True)
class PushToRecord:
    """One tag of a repository now pointing at a digest, as a source reports it."""

    repository: str  # full name, namespace/name
    tag: str
    digest: str | None  # None: the source does not say (Docker Hub); see ``UNKNOWN_DIGEST``
    source: str
    external_id: str | None = None  # the source's event id: a re-post of it notifies once
    registry_host: str | None = None  # the host the registry was reached at, for ``docker_url``


# What a tag's row holds when its last push named no digest (the column takes no NULL): a later
# digest-less push of that tag within the window is a duplicate (a source that sends no digest
# cannot tell a re-push from the repeats of one push; Docker Hub sends one per platform of a
# multi-arch image). Never a digest: readers of the rows (vulnerabilities) skip it as no digest.
UNKNOWN_DIGEST = ""


def _window_digest(push: PushToRecord) -> str:
    return UNKNOWN_DIGEST if push.digest is None else push.digest


@dataclass(frozen=True)
class PushOutcome:
    """``accepted``: a new ``repo_push`` event was stored. Else a duplicate (the same digest within
    the window, or an event id seen before) unless ``error`` says why it could not be used."""

    accepted: bool
    error: Exception | None = None

    @property
    def duplicate(self) -> bool:
        return not self.accepted and self.error is None


ACCEPTED = PushOutcome(True)
DUPLICATE = PushOutcome(False)


async def ensure_repository(session: AsyncSession, full_name: str) -> Repository:
    """The repository, created on first sight. A namespace nobody owns yet becomes an organization
    with no members: only superusers administer it until they grant access."""
    found = await accounts.find_repository(session, full_name)
    if found is not None:
        return found
    namespace, _ = accounts.split_repository(full_name)
    try:
        async with session.begin_nested():
            if not await accounts.find_user(session, namespace) and not await accounts.find_organization(
                session, namespace
            ):
                await accounts.create_organization(session, namespace)
            return await accounts.create_repository(session, full_name)
    except (IntegrityError, accounts.AlreadyExists):  # another request created it meanwhile
        found = await accounts.find_repository(session, full_name)
        if found is None:
            raise
        return found


@dataclass
class _TagRow:
    id: int
    digest: str  # as stored now
    notified_at: datetime
    inserted: bool = False  # inserted by this call (with its first push's digest): no notification yet


TagKey = tuple[int, str]  # repository id, tag
EventKey = tuple[int, str]  # repository id, the source's event id
TagState = tuple[str, datetime | None]  # the digest last notified and when (None: never)


async def _lock_tag_rows(connection: AsyncConnection, keys: Sequence[TagKey]) -> dict[TagKey, _TagRow]:
    """The rows of ``keys`` (repository id, tag), locked until commit (in id order, so two
    transactions locking overlapping sets take them in the same order)."""
    wanted = set(keys)
    rows = await connection.execute(
        LOCK_TAG_ROWS,
        {"repository_ids": list({r for r, _ in wanted}), "tags": list({t for _, t in wanted})},
    )
    return {
        (row.repository_id, row.tag): _TagRow(row.id, row.digest, row.notified_at)
        for row in rows
        if (row.repository_id, row.tag) in wanted
    }


async def _tag_rows(
    connection: AsyncConnection, pushes: Sequence[tuple[int, str, str]], now: datetime
) -> dict[TagKey, _TagRow]:
    """The rows of the tags of ``pushes`` (repository id, tag, digest), locked while this
    transaction decides, so concurrent pushes of one tag are judged one after the other.

    A tag without a row gets one (holding its first push's digest, the row that push would leave),
    unless a concurrent push just inserted it; the tag is then judged against that one."""
    keys = list(dict.fromkeys((repository_id, tag) for repository_id, tag, _ in pushes))
    rows = await _lock_tag_rows(connection, keys)
    missing = [key for key in keys if key not in rows]
    if missing:
        first_digest: dict[TagKey, str] = {}
        for repository_id, tag, digest in pushes:
            first_digest.setdefault((repository_id, tag), digest)
        inserted = await connection.execute(
            _insert_tag_rows(connection.dialect.name),
            [
                {"repository_id": key[0], "tag": key[1], "digest": first_digest[key], "notified_at": now}
                for key in missing
            ],
        )
        for row in inserted:
            key = (row.repository_id, row.tag)
            rows[key] = _TagRow(row.id, first_digest[key], now, inserted=True)
        beaten = [key for key in missing if key not in rows]  # a concurrent writer stored them first
        if beaten:
            rows.update(await _lock_tag_rows(connection, beaten))
    return rows


@dataclass
class _Judgement:
    """What a batch comes to: the pushes to store (in order), why the others are not stored, and
    each tag's state once the stored ones are."""

    stored: list[int]
    others: dict[int, PushOutcome]
    tags: dict[TagKey, TagState]


class _Batch:
    """The pushes being recorded, their events (built once, when first needed) and how to judge them."""

    def __init__(
        self,
        pushes: Sequence[PushToRecord],
        repositories: dict[str, Repository],
        judged: list[int],
        settings: Settings,
        now: datetime,
    ) -> None:
        self.pushes = pushes
        self.repositories = repositories
        self.judged = judged  # the indexes of the pushes whose repository could be used
        self.settings = settings
        self.now = now
        self.kind = get_event_kind("repo_push")
        self.events: dict[int, dict[str, Any] | EventError] = {}  # by the push's index

    def repository_id(self, index: int) -> int:
        return self.repositories[self.pushes[index].repository].id

    def event(self, index: int) -> dict[str, Any] | EventError:
        """The values of the push's event row, or why its payload cannot be built."""
        if index not in self.events:
            push = self.pushes[index]
            repository = self.repositories[push.repository]
            try:
                payload = self.kind.build_payload(
                    repository_ref(repository, self.settings, registry_host=push.registry_host),
                    {"updated_tags": {push.tag: push.digest}},
                )
            except EventError as exc:
                self.events[index] = exc
            else:
                self.events[index] = {
                    "uuid": str(uuid.uuid4()),
                    "repository_id": repository.id,
                    "kind": self.kind.name,
                    "payload": payload,
                    "source": push.source,
                    "external_id": push.external_id,
                    "is_test": False,
                    "received_at": self.now,
                }
        return self.events[index]

    def judge(self, rows: dict[TagKey, _TagRow], taken: dict[EventKey, tuple[str, Any] | None]) -> _Judgement:
        """Each push in order, as if recorded alone after the ones before it: a duplicate when its
        tag was notified of its digest within the window, refused when its payload cannot be built
        or its event id was used for another event (a duplicate when for the same one), else stored.
        ``taken``: event ids stored before this batch, with their events' kind and payload (None
        when that event is gone). Pure: nothing is written."""
        window = timedelta(seconds=self.settings.push_window_seconds)
        tags: dict[TagKey, TagState] = {
            key: (row.digest, None if row.inserted else row.notified_at) for key, row in rows.items()
        }
        ids: dict[EventKey, tuple[str, Any]] = {}  # event ids this batch stores, with their events
        stored: list[int] = []
        others: dict[int, PushOutcome] = {}
        for index in self.judged:
            push = self.pushes[index]
            tag_key = (self.repository_id(index), push.tag)
            if tag_key in tags:  # else the row that beat ours is gone again (its repository deleted)
                digest, notified_at = tags[tag_key]
                same = digest == _window_digest(push)
                if notified_at is not None and same and self.now - notified_at < window:
                    others[index] = DUPLICATE
                    continue
            values = self.event(index)
            if isinstance(values, EventError):
                others[index] = PushOutcome(False, values)
                continue
            if push.external_id is not None:
                id_key = (tag_key[0], push.external_id)
                if id_key in ids or id_key in taken:
                    earlier = ids[id_key] if id_key in ids else taken[id_key]
                    same = earlier == (values["kind"], values["payload"])
                    others[index] = (
                        DUPLICATE if same else PushOutcome(False, EventConflict.reused(push.external_id))
                    )
                    continue
                ids[id_key] = (values["kind"], values["payload"])
            if tag_key in tags:
                tags[tag_key] = (_window_digest(push), self.now)
            stored.append(index)
        return _Judgement(stored, others, tags)

    def stored_event(self, index: int) -> dict[str, Any]:
        values = self.events[index]
        assert not isinstance(values, EventError)  # judged stored: its event was built
        return values


async def record_tag_pushes(
    session: AsyncSession, pushes: Sequence[PushToRecord], *, settings: Settings
) -> list[PushOutcome]:
    """Store each push that notifies as a ``repo_push`` event and queue its deliveries, in the
    caller's transaction; an outcome per push, in order. A push that cannot be used (a repository
    name that is not valid, an event id reused for another event) gets an ``error`` and leaves
    the others alone, and its tag as it was."""
    outcomes: list[PushOutcome | None] = [None] * len(pushes)
    repositories: dict[str, Repository] = {}
    refused: dict[str, Exception] = {}
    for name in dict.fromkeys(push.repository for push in pushes):
        try:
            repositories[name] = await ensure_repository(session, name)
        except accounts.AccountError as exc:
            refused[name] = exc
    for index, push in enumerate(pushes):
        if push.repository in refused:
            outcomes[index] = PushOutcome(False, refused[push.repository])
    judged = [index for index, outcome in enumerate(outcomes) if outcome is None]
    if not judged:
        return [outcome or DUPLICATE for outcome in outcomes]

    # the rest are Core statements: straight on the connection, no ORM layer to go through
    connection = await session.connection()
    batch = _Batch(pushes, repositories, judged, settings, utcnow())
    rows = await _tag_rows(
        connection,
        [(batch.repository_id(i), pushes[i].tag, _window_digest(pushes[i])) for i in judged],
        batch.now,
    )
    taken: dict[EventKey, tuple[str, Any] | None] = {}
    event_ids: dict[int, int] = {}  # the events inserted so far: row id by the push's index
    while True:
        judgement = batch.judge(rows, taken)
        stored = set(judgement.stored)
        unwanted = [event_ids.pop(index) for index in list(event_ids) if index not in stored]
        if unwanted:  # judged again: pushes stored a moment ago are not any more
            await connection.execute(DELETE_EVENTS, {"event_ids": unwanted})
        wanted = [index for index in judgement.stored if index not in event_ids]
        if not wanted:
            break
        # One insert; an event id stored before (or by a concurrent request) is skipped.
        inserted = await connection.execute(
            _insert_events(connection.dialect.name), [batch.stored_event(index) for index in wanted]
        )
        by_uuid = {row.uuid: row.id for row in inserted}
        skipped = []
        for index in wanted:
            row_id = by_uuid.get(batch.stored_event(index)["uuid"])
            if row_id is None:
                skipped.append(index)
            else:
                event_ids[index] = row_id
        if not skipped:
            break
        taken.update(await _earlier_events(connection, [batch.stored_event(index) for index in skipped]))
    await _write_tag_rows(connection, rows, judgement.tags)
    for index, outcome in judgement.others.items():
        outcomes[index] = outcome
    if not judgement.stored:
        return [outcome or DUPLICATE for outcome in outcomes]

    kind = batch.kind
    candidates = await enabled_notifications(
        session, {batch.repository_id(index) for index in judgement.stored}, kind.name
    )
    deliveries: list[dict[str, Any]] = []
    for index in judgement.stored:
        values = batch.stored_event(index)
        matched = [
            notification.id
            for notification in await matching_notifications(
                kind, candidates.get(values["repository_id"], []), values["payload"]
            )
        ]
        deliveries += [
            {"uuid": str(uuid.uuid4()), "event_id": event_ids[index], "notification_id": n, "is_test": False}
            for n in matched
        ]
        count_recorded_event(session, kind.name, pushes[index].source, len(matched))
        outcomes[index] = ACCEPTED
    if deliveries:
        await connection.execute(INSERT_DELIVERIES, deliveries)
        await announce(session)
    return [outcome or DUPLICATE for outcome in outcomes]


async def _earlier_events(
    connection: AsyncConnection, events: list[dict[str, Any]]
) -> dict[EventKey, tuple[str, Any] | None]:
    """The stored events whose ids ``events`` (skipped by the insert) reused: kind and payload (None
    when that event is gone again)."""
    keys = {(values["repository_id"], values["external_id"]) for values in events}
    earlier = await connection.execute(
        EARLIER_EVENTS,
        {"repository_ids": list({r for r, _ in keys}), "external_ids": list({e for _, e in keys})},
    )
    found = {(row.repository_id, row.external_id): (row.kind, row.payload) for row in earlier}
    return {key: found.get(key) for key in keys}


async def _write_tag_rows(
    connection: AsyncConnection, rows: dict[TagKey, _TagRow], tags: dict[TagKey, TagState]
) -> None:
    """Leave each tag's row as its stored pushes left it: updated where they moved it, and a row
    inserted for a tag none of whose pushes was stored deleted again."""
    changed: list[dict[str, Any]] = []
    unused: list[int] = []
    for key, row in rows.items():
        digest, notified_at = tags[key]
        if notified_at is None:
            unused.append(row.id)
        elif (digest, notified_at) != (row.digest, row.notified_at):
            changed.append({"row_id": row.id, "new_digest": digest, "new_notified_at": notified_at})
    if changed:
        await connection.execute(UPDATE_TAG_ROWS, changed)
    if unused:
        await connection.execute(DELETE_TAG_ROWS, {"row_ids": unused})
