"""Tag pushes from any source, many at a time: the repository appears on its first event, and a
tag → digest pair seen again within the window notifies once.

``record_tag_pushes`` stores a list of pushes (the registry receiver's pushes of every envelope in
a shared transaction) in a handful of statements whatever the list's length: one locking read and
at most one insert and one update of the tags' rows, one insert of the events, one of their
deliveries. It judges the pushes in list order, exactly as if each had been recorded alone, one
after the other: a later push of a tag is judged against the earlier one. Its statements are Core
statements built once, run on the session's connection (the ORM layer would cost more than they do).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from regnotify import accounts
from regnotify.config import Settings
from regnotify.db.models import Delivery, Event, Repository, TagPush
from regnotify.db.types import utcnow
from regnotify.db.upsert import insert_unless_present
from regnotify.delivery.wakeup import announce
from regnotify.events import EventError, get_event_kind
from regnotify.ingest.matching import matching_notifications
from regnotify.ingest.recording import EventConflict, enabled_notifications, repository_ref
from regnotify.metrics import count_recorded_event

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
    digest: str
    source: str
    external_id: str | None = None  # the source's event id: a re-post of it notifies once
    registry_host: str | None = None  # the host the registry was reached at, for ``docker_url``


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
    digest: str
    notified_at: datetime
    fresh: bool = False  # inserted by this call for the first push of its tag: that push notifies


TagKey = tuple[int, str]  # repository id, tag


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


async def _windows_allow(
    connection: AsyncConnection, pushes: Sequence[tuple[int, str, str]], window: float
) -> list[bool]:
    """For each (repository id, tag, digest) in order: record it and say whether it notifies (not
    the same digest for that tag within the window).

    The tags' rows are locked while this transaction decides, so concurrent pushes of one tag are
    judged one after the other. A tag's first push inserts its row unless a concurrent one just
    did; it is then judged against that one."""
    if not pushes:
        return []
    now = utcnow()
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
            rows[key] = _TagRow(row.id, first_digest[key], now, fresh=True)
        beaten = [key for key in missing if key not in rows]  # a concurrent writer stored them first
        if beaten:
            rows.update(await _lock_tag_rows(connection, beaten))

    allowed: list[bool] = []
    changed: dict[int, _TagRow] = {}
    for repository_id, tag, digest in pushes:
        row = rows.get((repository_id, tag))
        if row is None:  # the row that beat ours is gone again (its repository deleted): notify
            allowed.append(True)
        elif row.fresh:
            row.fresh = False
            allowed.append(True)
        elif row.digest == digest and now - row.notified_at < timedelta(seconds=window):
            allowed.append(False)
        else:
            row.digest, row.notified_at = digest, now
            changed[row.id] = row
            allowed.append(True)
    if changed:
        await connection.execute(
            UPDATE_TAG_ROWS,
            [
                {"row_id": row_id, "new_digest": row.digest, "new_notified_at": row.notified_at}
                for row_id, row in changed.items()
            ],
        )
    return allowed


async def record_tag_pushes(
    session: AsyncSession, pushes: Sequence[PushToRecord], *, settings: Settings
) -> list[PushOutcome]:
    """Store each push that notifies as a ``repo_push`` event and queue its deliveries, in the
    caller's transaction; an outcome per push, in order. A push that cannot be used (a repository
    name that is not valid, an event id reused for another event) gets an ``error`` and leaves
    the others alone."""
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

    # the rest are Core statements: straight on the connection, no ORM layer to go through
    connection = await session.connection()
    judged = [index for index, outcome in enumerate(outcomes) if outcome is None]
    allowed = await _windows_allow(
        connection,
        [(repositories[pushes[i].repository].id, pushes[i].tag, pushes[i].digest) for i in judged],
        settings.push_window_seconds,
    )
    kind = get_event_kind("repo_push")
    now = utcnow()
    events: dict[int, dict[str, Any]] = {}  # by the push's index
    for index, allow in zip(judged, allowed, strict=True):
        if not allow:
            outcomes[index] = DUPLICATE
            continue
        push = pushes[index]
        repository = repositories[push.repository]
        try:
            payload = kind.build_payload(
                repository_ref(repository, settings, registry_host=push.registry_host),
                {"updated_tags": {push.tag: push.digest}},
            )
        except EventError as exc:
            outcomes[index] = PushOutcome(False, exc)
            continue
        events[index] = {
            "uuid": str(uuid.uuid4()),
            "repository_id": repository.id,
            "kind": kind.name,
            "payload": payload,
            "source": push.source,
            "external_id": push.external_id,
            "is_test": False,
            "received_at": now,
        }
    if not events:
        return [outcome or DUPLICATE for outcome in outcomes]

    # One insert; an event id seen before is skipped, and compared below.
    stored = await connection.execute(_insert_events(connection.dialect.name), list(events.values()))
    event_ids = {row.uuid: row.id for row in stored}
    skipped = [index for index, values in events.items() if values["uuid"] not in event_ids]
    if skipped:
        await _judge_reposts(connection, {index: events.pop(index) for index in skipped}, outcomes)

    candidates = await enabled_notifications(
        session, {values["repository_id"] for values in events.values()}, kind.name
    )
    deliveries: list[dict[str, Any]] = []
    for index, values in events.items():
        matched = [
            notification.id
            for notification in await matching_notifications(
                kind, candidates.get(values["repository_id"], []), values["payload"]
            )
        ]
        event_id = event_ids[values["uuid"]]
        deliveries += [
            {"uuid": str(uuid.uuid4()), "event_id": event_id, "notification_id": n, "is_test": False}
            for n in matched
        ]
        count_recorded_event(session, kind.name, pushes[index].source, len(matched))
        outcomes[index] = ACCEPTED
    if deliveries:
        await connection.execute(INSERT_DELIVERIES, deliveries)
        await announce(session)
    return [outcome or DUPLICATE for outcome in outcomes]


async def _judge_reposts(
    connection: AsyncConnection, reposts: dict[int, dict[str, Any]], outcomes: list[PushOutcome | None]
) -> None:
    """Events whose id was stored before: the same event again is a duplicate, another is refused."""
    keys = {(values["repository_id"], values["external_id"]) for values in reposts.values()}
    earlier = await connection.execute(
        EARLIER_EVENTS,
        {"repository_ids": list({r for r, _ in keys}), "external_ids": list({e for _, e in keys})},
    )
    found = {(row.repository_id, row.external_id): (row.kind, row.payload) for row in earlier}
    for index, values in reposts.items():
        if found.get((values["repository_id"], values["external_id"])) == (values["kind"], values["payload"]):
            outcomes[index] = DUPLICATE
        else:
            outcomes[index] = PushOutcome(False, EventConflict.reused(values["external_id"]))
