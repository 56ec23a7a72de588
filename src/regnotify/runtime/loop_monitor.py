"""Seeing stalls of the event loop: how late its timers run, and what kept it busy when it stalled.

Two parts, started together by ``LoopMonitor.start()`` in the loop they watch (``serve``'s lifespan,
``regnotify worker``):

- a timer in the loop wakes every ``interval`` and observes how late it ran into the
  ``regnotify_event_loop_lag_seconds`` histogram, and stamps a heartbeat;
- a watchdog thread looks at the heartbeat. When it is older than the warning threshold (plus one
  interval), one callback has kept the loop busy that long: the watchdog logs a warning, once per
  stall, naming the innermost frames the loop's thread is running at that moment.

Nothing of the stack's local variables is logged, only files, lines and function names.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import threading
import time
from types import FrameType

from regnotify.runtime.metrics import event_loop_lag

log = logging.getLogger(__name__)

INTERVAL = 0.025  # seconds between two looks at the loop's lag
FRAMES = 5  # innermost frames a stall warning names


class LoopMonitor:
    """Watches the running event loop; ``start()`` in it, ``await stop()`` before the loop ends."""

    def __init__(self, warn_after_ms: float, *, interval: float = INTERVAL) -> None:
        self.warn_after = warn_after_ms / 1000
        self.interval = interval
        self.stalls = 0  # stalls warned about, for tests
        self._heartbeat = time.monotonic()
        self._loop_thread: int | None = None
        self._task: asyncio.Task[None] | None = None
        self._watchdog: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        if self._task is not None:
            return
        self._loop_thread = threading.get_ident()
        self._heartbeat = time.monotonic()
        self._stopping.clear()
        self._task = asyncio.get_running_loop().create_task(self._measure(), name="loop-monitor")
        self._watchdog = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._watchdog.start()

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._watchdog is not None:
            self._watchdog.join()
            self._watchdog = None

    async def __aenter__(self) -> LoopMonitor:
        self.start()
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _measure(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            event_loop_lag.observe(max(0.0, loop.time() - due))
            self._heartbeat = time.monotonic()

    def _watch(self) -> None:
        # a heartbeat is due every interval: older than threshold + interval, the loop was busy
        # for at least the threshold without a break
        limit = self.warn_after + self.interval
        check = min(self.interval, self.warn_after / 4)
        warned_for: float | None = None
        while not self._stopping.wait(check):
            beat = self._heartbeat
            age = time.monotonic() - beat
            if age > limit and beat != warned_for:
                warned_for = beat
                self.stalls += 1
                log.warning(
                    "the event loop has been blocked for %.0f ms so far (warning past %.0f ms), in %s",
                    (age - self.interval) * 1000,
                    self.warn_after * 1000,
                    self._where(),
                    extra={"loop_lag_ms": round((age - self.interval) * 1000)},
                )

    def _where(self) -> str:
        frame = sys._current_frames().get(self._loop_thread or -1)
        return describe_stack(frame) if frame is not None else "an unknown place"


def describe_stack(frame: FrameType | None, depth: int = FRAMES) -> str:
    """The innermost ``depth`` frames, innermost first: ``function (file.py:line) < caller (…)``; the
    event loop's own frames, below the callback it runs, are left out."""
    parts: list[str] = []
    while frame is not None and len(parts) < depth:
        code = frame.f_code
        if code.co_name == "_run" and code.co_filename.endswith(os.path.join("asyncio", "events.py")):
            break  # the loop running a callback: everything further out is the loop itself
        parts.append(f"{code.co_name} ({_short(code.co_filename)}:{frame.f_lineno})")
        frame = frame.f_back
    return " < ".join(parts)


def _short(filename: str) -> str:
    """A file name without the uninteresting part of its path: ``regnotify/delivery/worker.py``."""
    parts = filename.split(os.sep)
    for anchor in ("site-packages", "regnotify"):
        if anchor in parts[:-1]:
            index = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[index + (anchor == "site-packages") :])
    return "/".join(parts[-2:])
