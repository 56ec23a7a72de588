"""The API and the workers as separate processes (docs/operations.md): `serve --no-worker` only
accepts and queues; a `regnotify worker` beside it delivers."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from .test_walkthrough import DIGEST, REGNOTIFY, cli
from .test_walkthrough import environment as environment  # the fixture


class Receiver(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.ids: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hook"


class Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.ids.append(self.headers["webhook-id"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


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
