"""The loop monitor: a blocked event loop is measured in the lag histogram and named in a warning."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import pytest
from prometheus_client import REGISTRY

from regnotify.runtime.loop_monitor import LoopMonitor, describe_stack

LAG = "regnotify_event_loop_lag_seconds"


def lag_samples(at_most: str | None = None) -> float:
    if at_most is None:
        return REGISTRY.get_sample_value(f"{LAG}_count") or 0.0
    return REGISTRY.get_sample_value(f"{LAG}_bucket", {"le": at_most}) or 0.0


def block_the_loop_on_purpose(seconds: float = 0.3) -> None:
    time.sleep(seconds)  # what a careless callback does: the loop can run nothing else meanwhile


def watchdogs() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "loop-watchdog"]


async def test_a_blocked_loop_is_warned_about_by_name_and_measured(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="regnotify.runtime.loop_monitor")
    monitor = LoopMonitor(100)
    async with monitor:
        await asyncio.sleep(0.1)  # a few calm samples first
        samples, short = lag_samples(), lag_samples("0.25")
        block_the_loop_on_purpose()
        await asyncio.sleep(0.1)  # the lag sample is taken once the loop runs again
    assert lag_samples() > samples
    assert lag_samples() - samples > lag_samples("0.25") - short  # a sample over 0.25 s
    warnings = [r.getMessage() for r in caplog.records if r.name == "regnotify.runtime.loop_monitor"]
    assert len(warnings) == 1, warnings  # once per stall
    assert "block_the_loop_on_purpose" in warnings[0]
    assert "test_loop_monitor.py" in warnings[0]
    assert monitor.stalls == 1
    assert watchdogs() == []  # stopped with the monitor


async def test_a_calm_loop_is_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="regnotify.runtime.loop_monitor")
    async with LoopMonitor(250) as monitor:  # far above what a busy test machine adds
        for _ in range(10):
            block_the_loop_on_purpose(0.02)  # short callbacks, well under the threshold
            await asyncio.sleep(0.01)
    assert monitor.stalls == 0
    assert not [r for r in caplog.records if r.name == "regnotify.runtime.loop_monitor"]


async def test_stop_without_start_and_twice_is_fine() -> None:
    monitor = LoopMonitor(100)
    await monitor.stop()
    monitor.start()
    await monitor.stop()
    await monitor.stop()
    assert watchdogs() == []


def test_a_stack_is_described_innermost_first() -> None:
    import sys

    def inner() -> str:
        return describe_stack(sys._getframe(), depth=2)

    described = inner()
    assert described.startswith("inner (runtime/test_loop_monitor.py:")
    assert " < test_a_stack_is_described_innermost_first (runtime/test_loop_monitor.py:" in described
