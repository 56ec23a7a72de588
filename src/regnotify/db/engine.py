"""The async engine for SQLite (WAL, foreign keys, BEGIN IMMEDIATE writes taken in turns) or PostgreSQL
(psycopg 3).

On a SQLite file, writes use an engine of their own whose statements run on the event loop's
thread (``InlineConnection``) instead of aiosqlite's. A write transaction is short (each of its
statements takes well under a millisecond) and holds the one writer lock that every process
shares. Handing each statement to a thread and back let the loop run all the other ready work of
the process (hundreds of requests, or sends) between two statements: the lock was held 20 ms for
1 ms of work. Reads, which SQLite runs beside the writer, stay on aiosqlite's threads. The cost:
if something outside regnotify holds SQLite's lock (the ``sqlite3`` shell, a migration run while
the service runs), a write blocks the process for up to the busy timeout instead of only itself.

A SQLite database holds password hashes, tokens and e-mail addresses, so its files are the owner's
alone whatever the umask: the database file is made 0600 before SQLite opens it (SQLite gives its
-wal and -shm the database file's mode), in a directory made 0700 (``private_directory``).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, cast

import aiosqlite
import psycopg
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from regnotify.config import PRIVATE_FILE, private_directory, private_file
from regnotify.db.writer_turn import WriterTurn

# What a database that is down or unreachable raises: SQLAlchemy's wrapped errors, and the drivers'
# own for statements run on them directly (the delivery worker's hot path). Callers that retry
# later catch these; anything else is a bug.
DATABASE_ERRORS = (
    OperationalError,
    InterfaceError,
    PoolTimeout,
    OSError,
    sqlite3.OperationalError,
    psycopg.OperationalError,
)

# Execution option that marks a read-only transaction, so SQLite opens it DEFERRED
# (a WAL reader) instead of taking the single writer lock with BEGIN IMMEDIATE.
READ_ONLY = "regnotify_read_only"


def _install_sqlite_hooks(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN DEFERRED")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose statements run at once on the calling (event loop) thread.

    Connecting, closing and setting the isolation level still go through aiosqlite's thread. It
    overrides aiosqlite's private ``_execute``, the one place every statement passes through (in
    aiosqlite 0.22, the oldest version ``pyproject.toml`` accepts); every SQLite write in the test
    suite goes through it."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def _inline_creator(database: str) -> Callable[[], Any]:
    async def connect() -> InlineConnection:
        connection = InlineConnection(
            partial(sqlite3.connect, database, timeout=30, check_same_thread=False), iter_chunk_size=64
        )
        connection._thread.daemon = True  # as SQLAlchemy does for aiosqlite's own connections
        return cast(InlineConnection, await connection)  # aiosqlite's await gives the connection itself

    return connect


def create_engine(
    url: str, *, sqlite_busy_timeout_ms: int = 15000, echo: bool = False, inline: bool = False
) -> AsyncEngine:
    """An engine for ``url`` (already carrying its async driver), with the per-engine setup applied.

    ``inline`` (SQLite files): statements run on the event loop's thread (``InlineConnection``)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not parsed.database.startswith("file:"):
            _private_database_file(Path(parsed.database))
        if inline and parsed.database:
            engine = create_async_engine(url, echo=echo, async_creator=_inline_creator(parsed.database))
        else:
            engine = create_async_engine(url, echo=echo, connect_args={"timeout": 30})
        _install_sqlite_hooks(engine, sqlite_busy_timeout_ms)
        return engine
    return create_async_engine(
        url,
        echo=echo,
        pool_pre_ping=True,
        pool_size=10,
        max_overflow=10,
        pool_timeout=10,
        connect_args={"connect_timeout": 5},
    )


def _private_database_file(database: Path) -> None:
    """Create ``database`` empty and 0600 unless it exists (SQLite takes an empty file for an empty
    database), in a private directory; tighten the files an older version left open to others."""
    private_directory(database.parent, database=database.name)
    try:
        fd = os.open(database, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    except FileExistsError:
        for suffix in ("", "-wal", "-shm", "-journal"):
            private_file(Path(f"{database}{suffix}"))
    else:
        os.fchmod(fd, PRIVATE_FILE)  # os.open's mode went through the umask
        os.close(fd)


class Database:
    """The engines and the two kinds of session the code uses: writes and reads."""

    def __init__(self, url: str, *, sqlite_busy_timeout_ms: int = 15000, echo: bool = False) -> None:
        self.url = url
        self.engine = create_engine(url, sqlite_busy_timeout_ms=sqlite_busy_timeout_ms, echo=echo)
        lock_file = _lock_file(url) if self.dialect == "sqlite" else None
        # a SQLite file's writes run inline (module docstring); in memory there is one database per
        # connection, so reads and writes share one engine
        self.write_engine = (
            create_engine(url, sqlite_busy_timeout_ms=sqlite_busy_timeout_ms, echo=echo, inline=True)
            if lock_file is not None
            else self.engine
        )
        self._writer = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = async_sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )
        self._write_turn = WriterTurn(lock_file) if self.dialect == "sqlite" else None

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A session in one write transaction, committed on success, rolled back on error."""
        if self._write_turn is None:
            async with self._writer() as session, session.begin():
                yield session
            return
        # The turn ends with the commit: closing the session after it takes a few turns of the
        # event loop (SQLAlchemy shields it from cancellation with a task), in which the process
        # runs whatever else is ready, and the other processes would wait for all that.
        async with self._writer() as session, self._write_turn(), session.begin():
            yield session

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A session for reads only; on SQLite it never takes the writer lock."""
        async with self._reader() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
        if self._write_turn is not None:
            self._write_turn.close()


def _lock_file(url: str) -> Path | None:
    """The file beside a SQLite database whose lock orders its writers (None in memory)."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(f"{database}-writers.lock")
