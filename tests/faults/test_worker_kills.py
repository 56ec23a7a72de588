"""SIGKILL the worker process at 20 random moments of a 2,000-delivery run, restarting it each time.

Every delivery must reach the receiver at least once and be recorded exactly once (one attempt,
``succeeded``); the deliveries that arrived twice are counted and reported. The kill moments come
from a fixed seed: after a random number of requests since the worker (re)started, plus a random
few milliseconds, so kills land mid-send, mid-claim and mid-finish.
"""

from __future__ import annotations

import asyncio
import random
import signal
import statistics
import time
from pathlib import Path

import pytest

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.runtime.crypto import secret_box

from .conftest import Record
from .parts import Receiver, Scene, WorkerProcesses

pytestmark = [pytest.mark.faults, pytest.mark.postgres_only]

SEED = 20_000
KILLS = 20
NOTIFICATIONS = 10
EVENTS = 200  # x NOTIFICATIONS = 2,000 deliveries
CONCURRENCY = 16
LEASE_SECONDS = 2


async def test_sigkill_at_20_random_moments_of_2000_deliveries(
    database: Database, settings: Settings, tmp_path: Path, figures: Record
) -> None:
    total = NOTIFICATIONS * EVENTS
    rng = random.Random(SEED)
    scene = await Scene.create(database, settings, secret_box(settings))
    receiver = await Receiver().start()
    workers = WorkerProcesses(
        database.url,
        str(settings.secret_key),
        tmp_path,
        lease_seconds=str(LEASE_SECONDS),
        retry_schedule="[0.2, 0.2, 0.2, 0.2, 0.2]",
        failure_threshold="1000",
        poll_interval="0.1",
        worker_concurrency=str(CONCURRENCY),
        per_host_concurrency=str(CONCURRENCY),
        http_total_timeout="10",
        log_level="WARNING",
    )
    try:
        for index in range(NOTIFICATIONS):
            await scene.notification("webhook", {"url": receiver.url}, f"hook {index}")
        await scene.push([f"v{index}" for index in range(EVENTS)])
        assert await scene.states() == {"pending": total}

        started = time.monotonic()
        kill_points: list[tuple[int, int]] = []  # (requests since start, distinct deliveries so far)
        first_request: list[float] = []  # seconds from each (re)start to its first request
        for kill in range(KILLS):
            process = workers.start(f"worker-{kill}")
            spawned, seen = time.monotonic(), len(receiver.arrivals)
            after = rng.randint(10, 70)  # at most 20 x 70 = 1,400 requests before the last kill
            await receiver.wait_for(seen + 1, seconds=60)
            first_request.append(receiver.arrivals[seen][0] - spawned)
            await receiver.wait_for(seen + after, seconds=60)
            await asyncio.sleep(rng.uniform(0, 0.03))
            assert process.poll() is None, f"worker {kill} exited by itself:\n{workers.log(f'worker-{kill}')}"
            distinct = len(set(receiver.ids))
            assert distinct < total, "the run finished before every kill landed"
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            kill_points.append((len(receiver.arrivals) - seen, distinct))

        last = workers.start("worker-last")
        final = await scene.wait_for_states({"succeeded": total}, seconds=120)
        elapsed = time.monotonic() - started
        assert final == {"succeeded": total}, workers.log("worker-last")[-3000:]
        workers.stop_all()
        assert last.returncode == 0

        deliveries = await scene.deliveries()
        attempts = await scene.attempts()
        counts = receiver.counts()
    finally:
        workers.stop_all()
        await receiver.close()

    assert len(deliveries) == total
    assert set(counts) == {d.uuid for d in deliveries}  # every delivery arrived, nothing else did
    for delivery in deliveries:  # recorded exactly once: a killed worker's attempt leaves no trace
        assert delivery.attempts == 1
        assert [a.outcome for a in attempts[delivery.id]] == ["succeeded"]
    twice = sum(1 for n in counts.values() if n >= 2)
    extra = sum(counts.values()) - total
    # only rows the killed worker held (at most CONCURRENCY) can be sent again
    assert extra <= KILLS * CONCURRENCY
    figures(
        {
            "engine": database.dialect,
            "kills_survived": len(kill_points),
            "deliveries": total,
            "arrived": len(counts),
            "arrived_twice": twice,
            "arrived_3_or_more_times": sum(1 for n in counts.values() if n >= 3),
            "extra_requests": extra,
            "restart_to_first_request_s": f"{statistics.median(first_request):.1f} median, "
            f"{max(first_request):.1f} max",
            "seconds": round(elapsed, 1),
            "seed": SEED,
        }
    )
