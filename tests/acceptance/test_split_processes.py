"""The API and the workers as separate processes (docs/operations.md): `serve --no-worker` only
accepts and queues; a `regnotify worker` beside it delivers."""

from __future__ import annotations

import subprocess
import time

import httpx

from .receivers import Receiver
from .receivers import receiver as receiver  # the fixture
from .test_walkthrough import DIGEST, REGNOTIFY, cli
from .test_walkthrough import environment as environment  # the fixture


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*REGNOTIFY, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def wait_for(check: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return True
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    return False


def test_an_api_without_worker_queues_and_a_separate_worker_delivers(
    environment: dict[str, str], receiver: Receiver
) -> None:
    environment["REGNOTIFY_POLL_INTERVAL"] = "0.1"
    for args in (
        ("user", "create", "alice", "--superuser", "--no-password"),
        ("repo", "create", "alice/app"),
    ):
        assert cli(environment, *args).returncode == 0
    token = cli(environment, "token", "create", "--user", "alice", "--name", "ops").stdout.strip()
    headers = {"Authorization": f"Bearer {token}"}
    api = start(environment, "serve", "--no-worker")
    worker: subprocess.Popen[str] | None = None
    base = f"http://127.0.0.1:{environment['REGNOTIFY_PORT']}"
    try:
        assert wait_for(lambda: httpx.get(f"{base}/healthz").status_code == 200, 30), "serve did not start"
        created = httpx.post(
            f"{base}/api/v1/repository/alice/app/notification/",
            headers=headers,
            json={"event": "repo_push", "method": "webhook", "config": {"url": receiver.url}},
        )
        assert created.status_code == 201, created.text
        body = {"kind": "repo_push", "data": {"updated_tags": {"v1": DIGEST}}}
        posted = httpx.post(f"{base}/api/v1/repository/alice/app/events", headers=headers, json=body)
        assert posted.status_code == 201, posted.text
        (delivery,) = posted.json()["deliveries"]

        time.sleep(1.5)  # an in-process worker polling every 0.1 s would have sent it by now
        assert receiver.ids == []
        worker = start(environment, "worker")
        assert wait_for(lambda: receiver.ids == [delivery["id"]], 30), "the worker did not deliver"
    finally:
        for process in (worker, api):
            if process is not None:
                process.terminate()
                process.wait(timeout=15)
