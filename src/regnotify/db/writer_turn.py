"""Whose turn it is to write to one SQLite database file.

SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps up to
100 ms between tries and favours nobody, so a process that writes back to back (the API under a
burst of registry posts) can starve another (the worker) for seconds. Writers here take turns
before they ask SQLite: those of this process in order (an asyncio lock), then processes one
after another through an advisory ``flock`` on ``<database>-writers.lock``.

The kernel wakes a process waiting for that lock when it is released, but does not hand it over:
the releasing process, writing again at once, would win every time. So a process that has to
wait also holds a shared lock on ``<database>-writers.wait`` meanwhile, and a process that
releases its turn while someone waits lets a moment pass (``HANDOVER_SECONDS``) before any of its
writers takes the turn again. With nobody waiting there is no pause. (Letting a process keep the
turn for its own queued writers was tried: the ingest benchmark's p99 got worse, 118–143 ms
against 73–86 ms.)

SQLite's own lock still guards the data; this only orders the queue, so a writer that does not
take part (the sqlite3 shell, say) is safe, merely unordered. Both files are 0600: anyone who can
open one can ``flock`` it, and so hold up every writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path

HANDOVER_SECONDS = 0.001
LOCK_FILE_MODE = 0o600


class WriterTurn:
    def __init__(self, lock_path: Path | None) -> None:
        """``lock_path`` None: one process only (an in-memory database), no file locks."""
        self.lock_path = lock_path
        self._local = asyncio.Lock()
        self._turn: int | None = None
        self._waiting: int | None = None
        self._handover_until = 0.0  # this process takes no turn before then: another process's

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        if self.lock_path is None:
            async with self._local:
                yield
            return
        async with self._local:
            if (pause := self._handover_until - time.monotonic()) > 0:
                await asyncio.sleep(pause)  # another process was waiting when this one gave it back
            turn, waiting = self._files()
            await _take(turn, waiting)
            try:
                yield
            finally:
                fcntl.flock(turn, fcntl.LOCK_UN)
                if _held_by_others(waiting):
                    self._handover_until = time.monotonic() + HANDOVER_SECONDS

    def _files(self) -> tuple[int, int]:
        if self._turn is None or self._waiting is None:
            assert self.lock_path is not None
            self._turn = _open_private(self.lock_path)
            waiting_path = self.lock_path.with_name(self.lock_path.name.removesuffix(".lock") + ".wait")
            self._waiting = _open_private(waiting_path)
        return self._turn, self._waiting

    def close(self) -> None:
        for fd in (self._turn, self._waiting):
            if fd is not None:
                os.close(fd)
        self._turn = self._waiting = None


def _open_private(path: Path) -> int:
    """``path`` opened for locking, created if need be; 0600 whatever the umask or an older version
    left (a file of another user's stays as it is)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, LOCK_FILE_MODE)
    if stat.S_IMODE(os.fstat(fd).st_mode) != LOCK_FILE_MODE:
        with contextlib.suppress(OSError):
            os.fchmod(fd, LOCK_FILE_MODE)
    return fd


async def _take(turn: int, waiting: int) -> None:
    try:
        fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no thread, no waiting
        return
    except BlockingIOError:
        pass
    taken = asyncio.get_running_loop().run_in_executor(None, _wait_for_turn, turn, waiting)
    try:
        await asyncio.shield(taken)
    except asyncio.CancelledError:
        # the thread will get the turn anyway: give it back as soon as it does
        def give_back(done: asyncio.Future[None]) -> None:
            if not done.cancelled() and done.exception() is None:
                _release(turn)

        taken.add_done_callback(give_back)
        raise


def _wait_for_turn(turn: int, waiting: int) -> None:
    fcntl.flock(waiting, fcntl.LOCK_SH)  # "someone waits", for the holder to see
    try:
        fcntl.flock(turn, fcntl.LOCK_EX)
    finally:
        fcntl.flock(waiting, fcntl.LOCK_UN)


def _held_by_others(waiting: int) -> bool:
    try:
        fcntl.flock(waiting, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(waiting, fcntl.LOCK_UN)
    return False


def _release(turn: int) -> None:
    fcntl.flock(turn, fcntl.LOCK_UN)
