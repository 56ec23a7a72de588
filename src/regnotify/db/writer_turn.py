"""Whose turn it is to write to one SQLite database file.

SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps up to
100 ms between tries and favours nobody, so a process that writes back to back (the API under a
burst of registry posts) can starve another (the worker) for seconds. Writers here take turns
before they ask SQLite: those of this process in order (an asyncio lock), then processes one
after another through an advisory ``flock`` on a file beside the database, which the kernel hands
to a waiting process the moment the holder lets go. SQLite's own lock still guards the data;
this only orders the queue, so a writer that does not take part (the sqlite3 shell, say) is safe,
merely unordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
from collections.abc import AsyncIterator
from pathlib import Path

HANDOVER_SECONDS = 0.001


class WriterTurn:
    def __init__(self, lock_path: Path | None) -> None:
        """``lock_path`` None: one process only (an in-memory database), no file lock."""
        self.lock_path = lock_path
        self._local = asyncio.Lock()
        self._fd: int | None = None

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        if self.lock_path is None:
            async with self._local:
                yield
            return
        async with self._local:
            fd = self._file()
            await _lock(fd)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        # The kernel wakes a process waiting for the file lock, but does not hand it over: without
        # a pause this process, writing back to back, would take it again first every time.
        await asyncio.sleep(HANDOVER_SECONDS)

    def _file(self) -> int:
        if self._fd is None:
            assert self.lock_path is not None
            self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._fd

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def _lock(fd: int) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no thread needed
        return
    except BlockingIOError:
        pass
    waiting = asyncio.get_running_loop().run_in_executor(None, fcntl.flock, fd, fcntl.LOCK_EX)
    try:
        await asyncio.shield(waiting)
    except asyncio.CancelledError:
        # the thread will get the lock anyway: give it back as soon as it does
        waiting.add_done_callback(lambda done: done.cancelled() or done.exception() or _unlock(fd))
        raise


def _unlock(fd: int) -> None:
    fcntl.flock(fd, fcntl.LOCK_UN)
