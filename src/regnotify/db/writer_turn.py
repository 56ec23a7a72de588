"""Whose turn it is to write to one SQLite database file.

SQLite lets one writer in at a time and makes the others poll: its busy handler sleeps up to
100 ms between tries and favours nobody, so a process that writes back to back (the API under a
burst of registry posts) can starve another (the worker) for seconds. Writers here take turns
before they ask SQLite: those of this process in order (an asyncio lock), then processes one
after another through an advisory ``flock`` on ``<database>-writers.lock``.

The kernel wakes a process waiting for that lock when it is released, but does not hand it over:
the releasing process, writing again at once, would win every time. So a process that has to
wait also holds a shared lock on ``<database>-writers.wait`` meanwhile, and a process that
releases its turn while someone waits pauses a moment (``HANDOVER_SECONDS``) before it takes the
turn again. With nobody waiting there is no pause.

A process's turn covers the writers of that process queued behind the one holding it: the turn
passes from one to the next without going back to the file lock, for up to ``TURN_SECONDS``. So
a worker whose claim and outcome recording both wait while the API writes runs both when its
turn comes, instead of one per turn of the API.

SQLite's own lock still guards the data; this only orders the queue, so a writer that does not
take part (the sqlite3 shell, say) is safe, merely unordered.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

HANDOVER_SECONDS = 0.001
TURN_SECONDS = 0.05  # how long a process may keep the turn for its queued writers


class WriterTurn:
    def __init__(self, lock_path: Path | None) -> None:
        """``lock_path`` None: one process only (an in-memory database), no file locks."""
        self.lock_path = lock_path
        self._local = asyncio.Lock()
        self._turn: int | None = None
        self._waiting: int | None = None
        self._queued = 0  # writers of this process waiting for the local lock
        self._held_since: float | None = None  # when this process took the file lock, if it holds it
        self._handover_until = 0.0  # no new turn before this: another process's

    @contextlib.asynccontextmanager
    async def __call__(self) -> AsyncIterator[None]:
        if self.lock_path is None:
            async with self._local:
                yield
            return
        self._queued += 1
        try:
            await self._local.acquire()
        except BaseException:
            self._queued -= 1
            if self._queued == 0 and not self._local.locked():
                self._give_back()  # the turn was kept for this writer, which went away
            raise
        self._queued -= 1
        try:
            if self._held_since is None:
                if (pause := self._handover_until - time.monotonic()) > 0:
                    await asyncio.sleep(pause)  # another process was waiting when we gave it back
                await _take(*self._files())
                self._held_since = time.monotonic()
            yield
        finally:
            if self._held_since is not None and (
                self._queued == 0 or time.monotonic() - self._held_since >= TURN_SECONDS
            ):
                self._give_back()
            self._local.release()

    def _give_back(self) -> None:
        """Release the file lock; if another process waits for it, let it in before taking it again."""
        if self._held_since is None:
            return
        turn, waiting = self._files()
        fcntl.flock(turn, fcntl.LOCK_UN)
        self._held_since = None
        if _held_by_others(waiting):
            self._handover_until = time.monotonic() + HANDOVER_SECONDS

    def _files(self) -> tuple[int, int]:
        if self._turn is None or self._waiting is None:
            assert self.lock_path is not None
            self._turn = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
            waiting_path = self.lock_path.with_name(self.lock_path.name.removesuffix(".lock") + ".wait")
            self._waiting = os.open(waiting_path, os.O_RDWR | os.O_CREAT, 0o600)
        return self._turn, self._waiting

    def close(self) -> None:
        for fd in (self._turn, self._waiting):
            if fd is not None:
                os.close(fd)
        self._turn = self._waiting = None


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
        taken.add_done_callback(lambda done: done.cancelled() or done.exception() or _release(turn))
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
