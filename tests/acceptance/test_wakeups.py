"""An idle service delivers at once, not at its next poll: `serve` with its worker inside, and `serve
--no-worker` beside a `regnotify worker`, both polling only every 30 s (real processes, both engines)."""

from __future__ import annotations

import subprocess
import threading
import time

import httpx

from .receivers import Receiver
from .receivers import receiver as receiver  # the fixture
from .test_split_processes import start, wait_for
from .test_walkthrough import DIGEST, cli
from .test_walkthrough import environment as environment  # the fixture

POLL = "30"  # far longer than the test waits: only a wake-up can deliver in time
WAIT = 10.0


class Output:
    """A process's output lines, read by a thread as they come."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    def says(self, text: str) -> bool:
        return any(text in line for line in self.lines)


def setup(environment: dict[str, str]) -> dict[str, str]:
    environment["REGNOTIFY_POLL_INTERVAL"] = POLL
    assert cli(environment, "user", "create", "alice", "--superuser", "--no-password").returncode == 0
    assert cli(environment, "repo", "create", "alice/app").returncode == 0
    token = cli(environment, "token", "create", "--user", "alice", "--name", "ops").stdout.strip()
    return {"Authorization": f"Bearer {token}"}


def push_three_one_at_a_time(base: str, headers: dict[str, str], receiver: Receiver) -> None:
    created = httpx.post(
        f"{base}/api/v1/repository/alice/app/notification/",
        headers=headers,
        json={"event": "repo_push", "method": "webhook", "config": {"url": receiver.url}},
    )
    assert created.status_code == 201, created.text
    time.sleep(1.0)  # the worker has looked, found nothing, and waits for a wake-up or its poll
    for tag in ("v1", "v2", "v3"):
        body = {"kind": "repo_push", "data": {"updated_tags": {tag: DIGEST}}}
        posted = httpx.post(f"{base}/api/v1/repository/alice/app/events", headers=headers, json=body)
        assert posted.status_code == 201, posted.text
        delivery = posted.json()["deliveries"][0]["id"]
        arrived = wait_for(lambda delivery=delivery: delivery in receiver.ids, WAIT)
        assert arrived, f"{tag} was not delivered without a poll"


def test_serve_delivers_an_idle_push_without_waiting_for_its_poll(
    environment: dict[str, str], receiver: Receiver
) -> None:
    headers = setup(environment)
    api = start(environment, "serve")
    output = Output(api)
    base = f"http://127.0.0.1:{environment['REGNOTIFY_PORT']}"
    try:
        assert wait_for(lambda: output.says("started (concurrency"), 30), "".join(output.lines)
        assert wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 200, 30), "serve did not start"
        push_three_one_at_a_time(base, headers, receiver)
    finally:
        api.terminate()
        api.wait(timeout=15)


def test_a_separate_worker_process_is_woken_at_once(environment: dict[str, str], receiver: Receiver) -> None:
    headers = setup(environment)
    api = start(environment, "serve", "--no-worker")
    worker = start(environment, "worker")
    output = Output(worker)
    base = f"http://127.0.0.1:{environment['REGNOTIFY_PORT']}"
    try:
        assert wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 200, 30), "serve did not start"
        assert wait_for(lambda: output.says("started (concurrency"), 30), "".join(output.lines)
        push_three_one_at_a_time(base, headers, receiver)
    finally:
        for process in (worker, api):
            process.terminate()
            process.wait(timeout=15)
