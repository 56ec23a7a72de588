"""Waking idle workers the moment deliveries are committed, on SQLite as on PostgreSQL.

Whatever queues deliveries calls ``announce(session)`` in its transaction. When that transaction
commits (not before: a worker woken earlier would find nothing), the workers learn of it:

- every ``Wakeup`` of this process on the same database is set at once (``serve`` runs its worker
  beside the API, so it does not wait for any round trip);
- on a SQLite file, the workers of other processes on this machine are woken through their
  doorbells, Unix datagram sockets beside the database (``doorbells.py``);
- on PostgreSQL, ``pg_notify`` is sent in the transaction, so the server tells every listening
  worker on commit. A worker listens on a connection of its own. It skips a notice its own process
  sent for the same database (the commit woke it already), and one sent from another schema (the
  channel is the whole database's: another installation, or another test run, shares it).

A worker polls as well (``poll_interval``), so a lost signal, a broken listener connection or a
directory where no socket can be bound only slows it down to the poll interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import threading
from dataclasses import dataclass
from functools import lru_cache

import psycopg
from sqlalchemy import event, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from regnotify.db import Database
from regnotify.db.doorbells import Bell, Directory, directory_for

log = logging.getLogger(__name__)

CHANNEL = "regnotify_deliveries"
_PENDING = "regnotify.wakeup.pending"  # session.info: (transaction to wait for, its target)
_PROCESS = secrets.token_hex(4)  # with the pid, names this process in its NOTIFY payloads


@dataclass(frozen=True)
class _Target:
    """Whom a commit on one database wakes: this process's ``Wakeup``s under ``key``, and doorbells."""

    key: str
    doorbells: Directory | None

    def sender(self) -> str:
        """Who sends a notice: this process, for this database (a NOTIFY payload's first part)."""
        digest = hashlib.sha256(self.key.encode()).hexdigest()[:12]
        return f"{os.getpid()}-{_PROCESS}-{digest}"


@lru_cache(maxsize=64)
def _target(url: URL) -> _Target:
    database = url.database
    if url.get_backend_name() == "sqlite" and database and database != ":memory:":
        if database.startswith("file:"):
            return _Target(f"sqlite:{database}", None)
        return _Target(f"sqlite:{os.path.realpath(database)}", directory_for(database))
    return _Target(url.render_as_string(hide_password=True), None)


_listening: dict[str, set[Wakeup]] = {}  # live Wakeups of this process, by database
_NOTIFY = text("SELECT pg_notify(:channel, :sender || ':' || coalesce(current_schema(), ''))")


async def announce(session: AsyncSession) -> None:
    """Wake the workers once this session's transaction commits (once per transaction, however
    many deliveries it queues)."""
    sync = session.sync_session
    transaction = sync.get_transaction()
    pending = sync.info.get(_PENDING)
    if transaction is not None and pending is not None and pending[0] is transaction:
        return
    bind = session.bind
    assert isinstance(bind, AsyncEngine)  # sessions are made on engines (db.engine), never on a connection
    target = _target(bind.url)
    if transaction is None:  # nothing to wait for
        _wake(target)
        return
    sync.info[_PENDING] = (transaction, target)
    if bind.dialect.name == "postgresql":
        await session.execute(_NOTIFY, {"channel": CHANNEL, "sender": target.sender()})


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    pending = session.info.get(_PENDING)
    if pending is None or session.in_nested_transaction():
        return  # nothing announced, or only a savepoint was released
    transaction, target = pending
    if session.get_transaction() is transaction:
        del session.info[_PENDING]
        _wake(target)


@event.listens_for(Session, "after_transaction_end")
def _on_end(session: Session, transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending is not None and pending[0] is transaction:
        del session.info[_PENDING]  # rolled back: nothing to announce


def _wake(target: _Target) -> None:
    """Wake the workers of ``target``; never raises (it runs after the commit succeeded)."""
    try:
        for wakeup in tuple(_listening.get(target.key, ())):
            wakeup.signal()
        if target.doorbells is not None:
            target.doorbells.ring()
    except Exception as exc:
        log.warning("could not wake the workers (%s): they find the deliveries when they poll", exc)


class Wakeup:
    """The worker's side: ``event`` is set whenever deliveries may have been queued.

    ``start()`` in the worker's event loop, ``stop()`` when done. ``wakeups`` counts the signals
    that set ``event`` (commits in this process, doorbells, notices), for tests and benchmarks.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self.event = asyncio.Event()
        self.wakeups = 0
        self._target = _target(db.engine.url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._bell: Bell | None = None

    @property
    def has_doorbell(self) -> bool:
        """Whether other processes on this machine can wake this one (SQLite)."""
        return self._bell is not None

    def start(self) -> None:
        if self._loop is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._thread = threading.get_ident()
        _listening.setdefault(self._target.key, set()).add(self)
        if self.db.dialect == "postgresql":
            self._task = asyncio.create_task(self._listen())
        elif self._target.doorbells is not None:
            self._bell = self._target.doorbells.bind()
            if self._bell is not None:
                self._loop.add_reader(self._bell.fileno(), self._on_bell)

    async def stop(self) -> None:
        if self._loop is None:
            return
        listening = _listening.get(self._target.key)
        if listening is not None:
            listening.discard(self)
            if not listening:
                _listening.pop(self._target.key, None)
        if self._bell is not None:
            self._loop.remove_reader(self._bell.fileno())
            self._bell.close()
            self._bell = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._loop = None

    def signal(self) -> None:
        """Set ``event``; callable from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():  # stopped, or never stopped but its loop is gone
            return
        with contextlib.suppress(RuntimeError):  # its loop closed meanwhile
            if threading.get_ident() == self._thread:
                self._set()
            else:
                loop.call_soon_threadsafe(self._set)

    def _set(self) -> None:
        self.wakeups += 1
        self.event.set()

    def _on_bell(self) -> None:
        if self._bell is not None and self._bell.drain():
            self._set()

    def _conninfo(self) -> str:
        url = self.db.engine.url.set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    async def _listen(self) -> None:
        own = self._target.sender()  # this process's commits wake it directly
        delay = 0.5
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(self._conninfo(), autocommit=True) as conn:
                    await conn.execute(f"LISTEN {CHANNEL}")
                    row = await (await conn.execute("SELECT coalesce(current_schema(), '')")).fetchone()
                    schema = row[0] if row else ""
                    delay = 0.5
                    self._set()  # we may have missed notices while connecting
                    async for notice in conn.notifies():
                        sender, sep, their_schema = notice.payload.partition(":")
                        if not sep or (sender != own and their_schema == schema):
                            self._set()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database went away: poll meanwhile, then reconnect
                log.warning("wake-up listener lost its connection (%s); reconnecting", type(exc).__name__)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
