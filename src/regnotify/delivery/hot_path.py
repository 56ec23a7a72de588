"""The worker's steady state: claim a batch, send it, record the outcomes and claim the next batch.

This is where a worker's throughput comes from, so the work per delivery is kept to what the
promises need and everything else is paid per batch. The contract:

- **Claim** (``claim``, ``record_and_claim``): one statement leases up to N due rows, oldest due first,
  under a fresh token (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so workers take disjoint rows;
  SQLite's writer lock serialises claims), and reads what sending needs as plain values. On
  PostgreSQL the lease and the read are one statement (a data-modifying CTE), on SQLite two. An
  event's payload and a notification's config are decoded once per batch reader, not per row.
- **Record** (``Finisher``): each finished send hands its outcome over and does not wait. Outcomes
  that end within ``LINGER`` of each other, up to ``MAX_BATCH``, share one write transaction,
  ordered by delivery id so that concurrent workers lock rows in the same order. Successes are
  recorded together: an attempt row and the delivery's move to ``succeeded``, only where the row
  still carries the lease token (a lost lease drops that outcome, logged, and the row is sent again
  by its new holder), and one reset of ``number_of_failures`` for the notifications that had any.
  Failures, which may retry, count towards disabling and notify admins, go one by one through
  ``outcome.record_outcome`` (a savepoint each, so one bad row spoils nothing else), and so do the
  successes of a notification with a failure in the batch, in order, so that its
  ``number_of_failures`` stays exact.
- **Claim the next batch in the same transaction.** When the outcomes free enough of the worker's
  slots, the transaction that records them also claims as many due rows as the worker has room
  for: one round trip instead of two, which matters on PostgreSQL, whose round trips wait behind
  the sends that keep the event loop busy.
- **Through the driver.** These statements are SQL text run on the DBAPI driver's own connection
  inside the session's transaction (``psycopg`` prepares them after a few runs; SQLite's statement
  cache keeps them compiled), not SQLAlchemy Core compiled per batch. On PostgreSQL a batch's
  statements go out in one pipeline; on SQLite they run on the event loop's thread, as every
  SQLite write does (``db.engine``).
- **After recording**, the worker is told once per batch (``on_recorded``): it frees the slots,
  counts metrics and logs. Successes are logged at DEBUG, failures at INFO.
- **If the database is unavailable** a batch is retried a few times; after that its outcomes are
  dropped and their leases run out, so the deliveries are sent again (at-least-once). A batch whose
  statements fail for another reason (a bug) is recorded again one by one, in a fresh transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db import DATABASE_ERRORS, Database
from regnotify.db.types import utcnow
from regnotify.delivery.outcome import Finished, excerpt, record_outcome
from regnotify.delivery.queue import Claimed, ClaimedEvent, ClaimedNotification, ClaimedRepository
from regnotify.delivery.retry import RetryPolicy
from regnotify.methods.sending import SendResult

log = logging.getLogger(__name__)

MAX_BATCH = 64
LINGER = 0.005  # seconds a batch waits for more outcomes once it has one
CACHE_SIZE = 4096  # decoded payloads and configs a reader keeps

# -- the statements --------------------------------------------------------------------------------

# Written out per engine (no composition: each is read as it runs). SQLite takes a list of ids as
# one JSON array parameter (``json_each``), so every statement text stays the same.
PG_CLAIM = """
WITH leased AS (
    UPDATE deliveries SET lease_owner = %(token)s, lease_expires_at = %(expires)s
    WHERE id IN (
        SELECT d.id FROM deliveries AS d JOIN notifications AS n ON n.id = d.notification_id
        WHERE d.state = 'pending' AND d.next_attempt_at <= %(now)s
          AND (d.lease_expires_at IS NULL OR d.lease_expires_at < %(now)s)
          AND (n.enabled OR d.is_test)
        ORDER BY d.next_attempt_at, d.id LIMIT %(limit)s
        FOR UPDATE OF d SKIP LOCKED)
    RETURNING id, uuid, attempts, is_test, event_id, notification_id, next_attempt_at)
SELECT d.id, d.uuid, d.attempts, d.is_test, e.id, e.kind, e.payload::text, e.received_at,
    n.id, n.uuid, n.title, n.event, n.method, n.config::text, r.id, r.namespace, r.name
FROM leased AS d
    JOIN events AS e ON e.id = d.event_id
    JOIN notifications AS n ON n.id = d.notification_id
    JOIN repositories AS r ON r.id = n.repository_id
ORDER BY d.next_attempt_at, d.id"""
# The arrays go in binary (``%(name)b``): as text, psycopg would escape each element with a regex.
PG_SUCCEED = """
WITH given AS (
    SELECT * FROM unnest(
        %(ids)b::bigint[], %(tokens)b::text[], %(numbers)b::integer[], %(statuses)b::integer[],
        %(errors)b::text[], %(started)b::timestamptz[], %(durations)b::double precision[],
        %(excerpts)b::text[], %(requests)b::text[], %(counted)b::bigint[])
    AS g(id, token, number, status, error, started, duration, excerpt, request, notification_id)),
done AS (
    UPDATE deliveries AS d SET state = 'succeeded', attempts = g.number, last_status_code = g.status,
        last_error = g.error, lease_owner = NULL, lease_expires_at = NULL, finished_at = %(now)s
    FROM given AS g
    WHERE d.id = ANY(%(ids)b::bigint[]) AND d.id = g.id AND d.lease_owner = g.token
    RETURNING d.id),
attempts AS (
    INSERT INTO delivery_attempts
        (delivery_id, number, started_at, duration_ms, outcome, status_code, error, response_excerpt,
         request, worker)
    SELECT g.id, g.number, g.started, g.duration, 'succeeded', g.status, g.error, g.excerpt,
        g.request::jsonb, %(worker)s
    FROM given AS g JOIN done USING (id)
    RETURNING delivery_id),
reset AS (  -- only notifications that had failures: no write, no row lock for the others
    UPDATE notifications SET number_of_failures = 0
    WHERE id IN (
        SELECT id FROM notifications
        WHERE number_of_failures <> 0
          AND id IN (SELECT g.notification_id FROM given AS g JOIN done USING (id))
        ORDER BY id FOR UPDATE))
SELECT delivery_id FROM attempts"""

SQLITE_LEASE = """
UPDATE deliveries SET lease_owner = :token, lease_expires_at = :expires
WHERE id IN (
    SELECT d.id FROM deliveries AS d JOIN notifications AS n ON n.id = d.notification_id
    WHERE d.state = 'pending' AND d.next_attempt_at <= :now
      AND (d.lease_expires_at IS NULL OR d.lease_expires_at < :now)
      AND (n.enabled IS 1 OR d.is_test IS 1)
    ORDER BY d.next_attempt_at, d.id LIMIT :limit)
RETURNING id"""
SQLITE_READ = """
SELECT d.id, d.uuid, d.attempts, d.is_test, e.id, e.kind, e.payload, e.received_at,
    n.id, n.uuid, n.title, n.event, n.method, n.config, r.id, r.namespace, r.name
FROM deliveries AS d
    JOIN events AS e ON e.id = d.event_id
    JOIN notifications AS n ON n.id = d.notification_id
    JOIN repositories AS r ON r.id = n.repository_id
WHERE d.id IN (SELECT value FROM json_each(?))
ORDER BY d.next_attempt_at, d.id"""
SQLITE_LEASES = "SELECT id, lease_owner FROM deliveries WHERE id IN (SELECT value FROM json_each(?))"
SQLITE_ATTEMPT = """
INSERT INTO delivery_attempts
    (delivery_id, number, started_at, duration_ms, outcome, status_code, error, response_excerpt,
     request, worker)
VALUES (?, ?, ?, ?, 'succeeded', ?, ?, ?, ?, ?)"""
SQLITE_SUCCEED = """
UPDATE deliveries SET state = 'succeeded', attempts = ?, last_status_code = ?, last_error = ?,
    lease_owner = NULL, lease_expires_at = NULL, finished_at = ?
WHERE id = ?"""
SQLITE_RESET_FAILURES = """
UPDATE notifications SET number_of_failures = 0
WHERE id IN (SELECT value FROM json_each(?)) AND number_of_failures <> 0"""


def sqlite_time(value: datetime) -> str:
    """A UTC datetime as SQLAlchemy stores it in SQLite (naive, always with microseconds), so that
    comparisons with stored values hold."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _sqlite_read_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


def _utc(value: datetime | None) -> datetime | None:
    """psycopg's aware datetime in ``datetime.UTC``, as the ORM's column type gives it."""
    return value.astimezone(UTC) if value is not None else None


def _request_json(result: SendResult) -> str:
    return json.dumps(result.request, ensure_ascii=False, separators=(",", ":"))


# -- claiming --------------------------------------------------------------------------------------


def _decoded(cache: dict[int, tuple[str, dict[str, Any]]], key: int, text: str) -> dict[str, Any]:
    """``json.loads(text)``, the same object as last time for the same key and text."""
    found = cache.get(key)
    if found is None or found[0] != text:
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        found = cache[key] = (text, json.loads(text))
    return found[1]


class ClaimReader:
    """Turns claimed rows into ``Claimed`` values, decoding each event's payload and each
    notification's config once: a batch holds one event many times over (one per notification it
    fans out to) and one notification many times over."""

    def __init__(self) -> None:
        # by row id, with the text they were decoded from: a config changes when it is edited, and
        # SQLite may give a deleted row's id to a new one
        self._payloads: dict[int, tuple[str, dict[str, Any]]] = {}
        self._configs: dict[int, tuple[str, dict[str, Any]]] = {}

    def payload(self, event_id: int, text: str) -> dict[str, Any]:
        return _decoded(self._payloads, event_id, text)

    def config(self, notification_id: int, text: str) -> dict[str, Any]:
        return _decoded(self._configs, notification_id, text)

    def claimed(self, token: str, rows: Sequence[Sequence[Any]], *, sqlite: bool) -> list[Claimed]:
        read_time = _sqlite_read_time if sqlite else _utc
        return [
            Claimed(
                d_id,
                d_uuid,
                token,
                attempts,
                bool(is_test),
                ClaimedEvent(e_id, kind, self.payload(e_id, payload), read_time(received)),
                ClaimedNotification(n_id, n_uuid, title, event, method, self.config(n_id, config)),
                ClaimedRepository(r_id, namespace, name),
            )
            for (
                d_id,
                d_uuid,
                attempts,
                is_test,
                e_id,
                kind,
                payload,
                received,
                n_id,
                n_uuid,
                title,
                event,
                method,
                config,
                r_id,
                namespace,
                name,
            ) in rows
        ]


@dataclass(eq=False, slots=True)
class Outcome:
    """One finished send on its way to the database. ``finished`` is set once it is recorded and stays
    None when the lease was lost or recording failed."""

    claimed: Claimed
    result: SendResult
    started_at: datetime
    handle: object = None  # the caller's own reference to the send, handed back with the outcome
    finished: Finished | None = None
    done: asyncio.Future[Finished | None] | None = None  # only for callers that wait (``submit``)


@dataclass(frozen=True, slots=True)
class NextClaim:
    """A claim to make in a write transaction: up to ``limit`` due rows, leased under ``token``."""

    reader: ClaimReader
    limit: int
    token: str
    now: datetime
    expires: datetime

    @classmethod
    def make(cls, reader: ClaimReader, *, limit: int, lease_seconds: float, worker: str) -> NextClaim:
        now = utcnow()
        token = f"{worker}:{uuid.uuid4().hex[:12]}"
        return cls(reader, limit, token, now, now + timedelta(seconds=lease_seconds))


async def _driver(session: AsyncSession) -> tuple[bool, Any]:
    """Whether the database is SQLite, and the DBAPI driver's own connection under ``session``'s
    transaction (begun by now): an aiosqlite connection or a psycopg ``AsyncConnection``."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return connection.dialect.name == "sqlite", raw.driver_connection


# -- SQLite: run on the connection's own thread, which is the event loop's for a database file ------


def _sqlite_successes(connection: sqlite3.Connection, items: list[Outcome], worker: str) -> list[Outcome]:
    ids = [item.claimed.delivery_id for item in items]
    held = dict(connection.execute(SQLITE_LEASES, (json.dumps(ids),)).fetchall())
    kept = [item for item in items if held.get(item.claimed.delivery_id) == item.claimed.lease_token]
    if not kept:
        return kept
    now = sqlite_time(utcnow())
    attempts, moves = [], []
    for item in kept:
        claimed, result = item.claimed, item.result
        number = claimed.attempts + 1
        attempts.append(
            (
                claimed.delivery_id,
                number,
                sqlite_time(item.started_at),
                round(result.duration_ms, 3),
                result.status_code,
                result.error,
                excerpt(result),
                _request_json(result),
                worker,
            )
        )
        moves.append((number, result.status_code, result.error, now, claimed.delivery_id))
    connection.executemany(SQLITE_ATTEMPT, attempts)
    connection.executemany(SQLITE_SUCCEED, moves)
    counted = sorted({item.claimed.notification.id for item in kept if not item.claimed.is_test})
    if counted:
        connection.execute(SQLITE_RESET_FAILURES, (json.dumps(counted),))
    return kept


def _sqlite_claim(connection: sqlite3.Connection, claim: NextClaim) -> list[Claimed]:
    leased = connection.execute(
        SQLITE_LEASE,
        {
            "token": claim.token,
            "expires": sqlite_time(claim.expires),
            "now": sqlite_time(claim.now),
            "limit": claim.limit,
        },
    )
    ids = [row[0] for row in leased]
    if not ids:
        return []
    rows = connection.execute(SQLITE_READ, (json.dumps(ids),)).fetchall()
    return claim.reader.claimed(claim.token, rows, sqlite=True)


def _sqlite_record_and_claim(
    connection: sqlite3.Connection, items: list[Outcome], worker: str, claim: NextClaim | None
) -> tuple[list[Outcome], list[Claimed]]:
    kept = _sqlite_successes(connection, items, worker) if items else []
    return kept, _sqlite_claim(connection, claim) if claim is not None else []


# -- PostgreSQL: one pipeline, so recording and claiming cost one round trip -----------------------


def _pg_columns(items: list[Outcome]) -> dict[str, list[Any]]:
    """PG_SUCCEED's parameters: one array per column, one element per outcome."""
    columns: dict[str, list[Any]] = {
        "ids": [], "tokens": [], "numbers": [], "statuses": [], "errors": [], "started": [],
        "durations": [], "excerpts": [], "requests": [], "counted": [],
    }  # fmt: skip
    for item in items:
        claimed, result = item.claimed, item.result
        columns["ids"].append(claimed.delivery_id)
        columns["tokens"].append(claimed.lease_token)
        columns["numbers"].append(claimed.attempts + 1)
        columns["statuses"].append(result.status_code)
        columns["errors"].append(result.error)
        columns["started"].append(item.started_at)
        columns["durations"].append(round(result.duration_ms, 3))
        columns["excerpts"].append(excerpt(result))
        columns["requests"].append(_request_json(result))
        columns["counted"].append(None if claimed.is_test else claimed.notification.id)
    return columns


async def _pg_record_and_claim(
    driver: Any, items: list[Outcome], worker: str, claim: NextClaim | None
) -> tuple[list[Outcome], list[Claimed]]:
    recorded: set[int] = set()
    rows: list[Any] = []
    async with driver.pipeline(), driver.cursor() as recording, driver.cursor() as claiming:
        if items:
            parameters = {**_pg_columns(items), "now": utcnow(), "worker": worker}
            await recording.execute(PG_SUCCEED, parameters)
        if claim is not None:
            parameters = {
                "token": claim.token,
                "expires": claim.expires,
                "now": claim.now,
                "limit": claim.limit,
            }
            await claiming.execute(PG_CLAIM, parameters)
        if items:
            recorded = {row[0] for row in await recording.fetchall()}
        if claim is not None:
            rows = await claiming.fetchall()
    kept = [item for item in items if item.claimed.delivery_id in recorded]
    return kept, claim.reader.claimed(claim.token, rows, sqlite=False) if claim is not None else []


# -- the two steps, in the caller's transaction ----------------------------------------------------


async def record_and_claim(
    session: AsyncSession, successes: list[Outcome], *, worker: str, claim: NextClaim | None = None
) -> list[Claimed]:
    """Record successful attempts, then make ``claim``, in ``session``'s write transaction.

    Each outcome whose lease still held gets ``finished`` (attempt row written, delivery
    ``succeeded``, the notification's failure count reset); the others are logged and left to their
    new holder. Returns what was claimed."""
    if not successes and claim is None:
        return []
    worker = worker[:64]
    sqlite, driver = await _driver(session)
    if sqlite:
        kept, claimed = await driver._execute(
            _sqlite_record_and_claim, driver._connection, successes, worker, claim
        )
    else:
        kept, claimed = await _pg_record_and_claim(driver, successes, worker, claim)
    for item in kept:
        item.finished = Finished("succeeded", item.claimed.attempts + 1, None, False)
    for item in successes:
        if item.finished is None:
            log.warning(
                "delivery %s: lease lost before finishing; the attempt is not recorded",
                item.claimed.delivery_uuid,
            )
    return claimed  # type: ignore[no-any-return]


async def claim(
    db: Database, *, limit: int, lease_seconds: float, worker: str, reader: ClaimReader | None = None
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, oldest due first, in a write transaction of its own."""
    if limit <= 0:
        return []
    next_claim = NextClaim.make(
        reader or ClaimReader(), limit=limit, lease_seconds=lease_seconds, worker=worker
    )
    async with db.write() as session:
        return await record_and_claim(session, [], worker=worker, claim=next_claim)


# -- the finisher ----------------------------------------------------------------------------------

Recorded = Callable[[list[Outcome]], None]
Room = Callable[[list[Outcome]], int]
OnClaimed = Callable[[list[Claimed], int], Awaitable[None]]


class Finisher:
    """Records outcomes in batches and, when the worker has room, claims the next batch with them.

    ``on_recorded(batch)`` is called after each batch's transaction (or after giving up on it).
    ``room(batch)`` says how many deliveries to claim in that transaction (0: none); the worker
    reserves them. ``on_claimed(claimed, reserved)`` then gets what was claimed.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        policy: RetryPolicy,
        *,
        worker: str,
        on_recorded: Recorded | None = None,
        room: Room | None = None,
        on_claimed: OnClaimed | None = None,
    ) -> None:
        self.db = db
        self.settings = settings
        self.policy = policy
        self.worker = worker
        self.reader = ClaimReader()
        self._on_recorded = on_recorded
        self._room = room
        self._on_claimed = on_claimed
        self._queue: asyncio.Queue[Outcome] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._idle = asyncio.Event()
        self._idle.set()

    def add(self, outcome: Outcome) -> None:
        """Queue an outcome for recording; the caller does not wait."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())
        self._idle.clear()
        self._queue.put_nowait(outcome)

    async def submit(self, claimed: Claimed, result: SendResult, started_at: datetime) -> Finished | None:
        """Record one outcome (batched with others) and wait for it; None when the lease was lost or
        recording failed."""
        outcome = Outcome(claimed, result, started_at, done=asyncio.get_running_loop().create_future())
        self.add(outcome)
        assert outcome.done is not None
        return await outcome.done

    @property
    def idle(self) -> bool:
        """Nothing is waiting to be recorded or being recorded."""
        return self._task is None or self._task.done() or self._idle.is_set()

    async def flush(self) -> None:
        """Wait until every outcome added so far is recorded (or given up on)."""
        while not self.idle:
            await self._idle.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if self._queue.empty():
                self._idle.set()
            batch = [await self._queue.get()]
            deadline = loop.time() + LINGER
            while len(batch) < MAX_BATCH:  # let sends finishing within LINGER join this batch
                if self._queue.empty():
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    try:
                        batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                    except TimeoutError:
                        break
                else:
                    batch.append(self._queue.get_nowait())
            await self._write(batch)

    async def _write(self, batch: list[Outcome]) -> None:
        batch.sort(key=lambda o: o.claimed.delivery_id)
        wanted = self._room(batch) if self._room is not None else 0
        claimed: list[Claimed] = []
        try:
            claimed = await self._record_with_retries(batch, wanted)
        finally:
            for item in batch:
                if item.done is not None and not item.done.done():
                    item.done.set_result(item.finished)
            try:
                if self._on_recorded is not None:
                    self._on_recorded(batch)
                if self._on_claimed is not None and wanted:
                    await self._on_claimed(claimed, wanted)
            except Exception:  # the outcomes are recorded; what was claimed comes back when its lease ends
                log.exception("handling %d recorded outcome(s) failed", len(batch))

    async def _record_with_retries(self, batch: list[Outcome], wanted: int) -> list[Claimed]:
        together = True
        for attempt in range(3):
            try:
                return await self._record(batch, wanted, together=together)
            except DATABASE_ERRORS:
                log.warning("could not record %d outcome(s) (try %d); retrying", len(batch), attempt + 1)
                await asyncio.sleep(1 + attempt)
            except Exception:  # a bug in the batch statements: record those rows one by one instead
                if not together:
                    log.exception("recording %d outcomes failed; their leases will run out", len(batch))
                    break
                log.exception("recording %d outcomes together failed; one by one instead", len(batch))
                together = False
        for item in batch:  # nothing was committed: the leases run out and the deliveries go out again
            item.finished = None
        return []

    async def _record(self, batch: list[Outcome], wanted: int, *, together: bool) -> list[Claimed]:
        """Record the batch in one transaction and claim up to ``wanted`` more: successes of
        notifications with no failure in this batch together (unless ``together`` is off), every
        other outcome one by one in order (a savepoint each)."""
        for item in batch:
            item.finished = None
        failing = {o.claimed.notification.id for o in batch if not o.result.ok}
        successes = [o for o in batch if o.claimed.notification.id not in failing] if together else []
        one_by_one = [o for o in batch if o.claimed.notification.id in failing] if together else batch
        next_claim = (
            NextClaim.make(
                self.reader, limit=wanted, lease_seconds=self.settings.lease_seconds, worker=self.worker
            )
            if wanted
            else None
        )
        async with self.db.write() as session:
            if not one_by_one:  # the steady state: one round trip
                return await record_and_claim(session, successes, worker=self.worker, claim=next_claim)
            await record_and_claim(session, successes, worker=self.worker)
            for item in one_by_one:
                try:
                    async with session.begin_nested():
                        item.finished = await record_outcome(
                            session,
                            item.claimed,
                            item.result,
                            started_at=item.started_at,
                            policy=self.policy,
                            failure_threshold=self.settings.failure_threshold,
                            worker=self.worker,
                        )
                except DATABASE_ERRORS:
                    raise
                except Exception:  # a bug in one row: that row stays leased, the rest go on
                    log.exception("delivery %s: recording the outcome failed", item.claimed.delivery_uuid)
            if next_claim is None:
                return []
            await session.flush()
            return await record_and_claim(session, [], worker=self.worker, claim=next_claim)
