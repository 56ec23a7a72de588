"""The real parts browser tests talk to, all on 127.0.0.1: regnotify under uvicorn (with its delivery
worker) in a thread, a webhook receiver, and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from cryptography.fernet import Fernet

from regnotify import accounts
from regnotify.accounts import Role
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database, migrate
from tests.integration.api.conftest import fixed_resolver

PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Hook:
    path: str
    headers: dict[str, str]
    body: bytes


class WebhookReceiver:
    """A threaded HTTP server: records every POST. Paths starting with ``/fail`` answer 500; paths
    starting with ``/flaky`` answer 200 and 500 in turn."""

    def __init__(self) -> None:
        self.requests: list[Hook] = []
        self.flaky_count = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                receiver.requests.append(Hook(self.path, dict(self.headers), self.rfile.read(length)))
                flaky = self.path.startswith("/flaky")
                if flaky:
                    receiver.flaky_count += 1
                failing = self.path.startswith("/fail") or (flaky and receiver.flaky_count % 2 == 0)
                status = 500 if failing else 200
                body = b'{"ok": false}' if status == 500 else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class MailInbox:
    """aiosmtpd's handler: keeps every message; ``link()`` finds the confirmation link in the last."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = envelope.content  # type: ignore[attr-defined]
        self.messages.append(email.message_from_bytes(content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"

    def wait_for_link(self, timeout: float = 10) -> str:
        deadline = time.monotonic() + timeout
        while not self.messages:
            if time.monotonic() > deadline:
                raise AssertionError("no confirmation mail arrived")
            time.sleep(0.05)
        body = self.messages[-1].get_body(preferencelist=("plain",))
        assert body is not None
        match = re.search(r"(http://127\.0\.0\.1:\d+/authrepoemail\?code=\S+)", body.get_content())
        assert match, body.get_content()
        return match.group(1)


@dataclass
class LiveServer:
    """regnotify serving on ``url`` with a worker; ``token`` is the admin's API token."""

    url: str
    settings: Settings
    receiver: WebhookReceiver
    mail: MailInbox
    token: str = ""
    _server: uvicorn.Server | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(method, f"{self.url}/api/v1{path}", headers=headers, timeout=10, **kwargs)  # type: ignore[arg-type]


REPOSITORIES = ("acme/app", "acme/chat", "acme/bell", "acme/mail", "acme/shots")


async def seed(settings: Settings) -> str:
    """Users and repositories the browser tests use; returns an API token for admin."""
    db = Database(settings.sqlalchemy_url)
    try:
        await migrate(db.engine)
        async with db.write() as s:
            names = ("admin", "bob", "reader")
            users = {name: await accounts.create_user(s, name, password=PASSWORD) for name in names}
            await accounts.create_organization(s, "acme")
            for full_name in REPOSITORIES:
                repository = await accounts.create_repository(s, full_name)
                await accounts.grant(s, repository, Role.ADMIN, user=users["admin"])
                await accounts.grant(s, repository, Role.READ, user=users["bob"])
                if full_name == "acme/app":
                    await accounts.grant(s, repository, Role.READ, user=users["reader"])
            return (await accounts.issue_token(s, name="browser-tests", user=users["admin"])).secret
    finally:
        await db.dispose()


def start_live_server(data_dir: Path) -> LiveServer:
    receiver = WebhookReceiver().start()
    mail = MailInbox()
    smtp_port = free_port()
    controller = Controller(mail, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'regnotify.db'}",
        host="127.0.0.1",
        port=port,
        public_base_url=f"http://127.0.0.1:{port}",
        registry_host="registry.example.com",
        secret_key=Fernet.generate_key().decode(),
        outbound_allowed_networks=["127.0.0.1/32"],
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_security="plain",
        poll_interval=0.1,
        retry_schedule=[3600],
        failure_threshold=3,
        verification_min_interval=0,
    )
    # Playwright's sync API keeps an event loop in this thread: seed from a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        token = pool.submit(asyncio.run, seed(settings)).result()
    app = create_app(settings, resolver=fixed_resolver, worker=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    live = LiveServer(settings.base_url, settings, receiver, mail, token, server, thread)
    live._smtp = controller  # type: ignore[attr-defined]
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("regnotify did not start")
        time.sleep(0.05)
    return live


def stop_live_server(live: LiveServer) -> None:
    if live._server is not None:
        live._server.should_exit = True
    if live._thread is not None:
        live._thread.join(timeout=20)
    live._smtp.stop()  # type: ignore[attr-defined]
    live.receiver.stop()
