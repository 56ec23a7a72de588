"""A real HTTP receiver in a thread, for server processes to deliver to: it records every POST."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


class Receiver(ThreadingHTTPServer):
    """Answers every POST with 204 and keeps it; one server can stand in for every method's host."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.base}/hook"

    @property
    def ids(self) -> list[str | None]:
        """The ``webhook-id`` of every request, in arrival order."""
        with self.lock:
            return [item.headers.get("webhook-id") for item in self.received]

    def paths(self) -> list[str]:
        with self.lock:
            return [item.path for item in self.received]


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.received.append(Received(self.path, dict(self.headers), json.loads(raw or b"null")))
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
