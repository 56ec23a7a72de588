"""No secret, token or password appears in a response, a log line or an error message.

One scene exercises every place a secret passes through: bearer tokens on every call, a webhook
with a signing secret and credentials in its URL, a Slack URL whose path is the secret, an SMTP
password, the secret key. Deliveries succeed, fail with an HTTP error and fail to connect. Then
every log record (DEBUG and up, with tracebacks), every API response read afterwards and the
admin's pages (Settings, History, each delivery) are scanned for each secret.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from sqlalchemy import select
from uvicorn.logging import AccessFormatter

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import User
from regnotify.delivery.senders import build_senders
from regnotify.delivery.worker import Worker
from regnotify.runtime.crypto import secret_box
from regnotify.runtime.logs import JsonFormatter
from regnotify.web.sessions import COOKIE_NAME, start_session

from .conftest import World

REPO = "/api/v1/repository/acme/app"
SIGNING_SECRET = "whsec_" + "U2VjcmV0U2lnbmluZ0tleUZvckxlYWtUZXN0cw=="
URL_PASSWORD = "UrlPassw0rdLeak"
QUERY_TOKEN = "QueryTok3nLeak"
SLACK_PATH = "SlackPathSecretLeak"
SMTP_PASSWORD = "SmtpPassw0rdLeak"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
async def receiver() -> AsyncIterator[str]:
    """Answers 200 to /ok and 500 to /fail."""

    async def handle(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200 if request.path.startswith("/ok") else 500, text="receiver says hi")

    app = web.Application()
    app.router.add_post("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_no_secret_in_logs_or_responses(
    client: httpx.AsyncClient,
    world: World,
    settings: Settings,
    database: Database,
    receiver: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    settings.outbound_allowed_networks = ["127.0.0.1/32"]
    settings.chat_allowed_hosts = ["127.0.0.1"]
    settings.smtp_host, settings.smtp_port, settings.smtp_password = "127.0.0.1", 9, SMTP_PASSWORD
    settings.smtp_username, settings.smtp_security = "mailer", "plain"
    settings.retry_schedule = [0.01]
    admin = world.headers("admin")
    secrets = [SIGNING_SECRET, URL_PASSWORD, QUERY_TOKEN, SLACK_PATH, SMTP_PASSWORD, str(settings.secret_key)]
    secrets += list(world.tokens.values())

    configs = [
        (
            "webhook",
            {
                "url": f"http://hook:{URL_PASSWORD}@{receiver}/ok?token={QUERY_TOKEN}",
                "secret": SIGNING_SECRET,
            },
        ),
        ("webhook", {"url": f"http://{receiver}/fail?token={QUERY_TOKEN}", "secret": SIGNING_SECRET}),
        ("webhook", {"url": f"http://hook:{URL_PASSWORD}@127.0.0.1:9/closed?token={QUERY_TOKEN}"}),
        ("slack", {"url": f"http://{receiver}/ok/services/T0/B0/{SLACK_PATH}"}),
        ("slack", {"url": f"http://{receiver}/fail/services/T0/B0/{SLACK_PATH}"}),
        ("email", {"email": "ops@example.com"}),
    ]
    uuids = []
    for method, config in configs:
        body = {"event": "repo_push", "method": method, "config": config, "eventConfig": {}}
        created = await client.post(f"{REPO}/notification/", json=body, headers=admin)
        assert created.status_code == 201, created.text
        uuids.append(created.json()["uuid"])
    for tag in ("v1", "v2"):
        event = {"kind": "repo_push", "data": {"updated_tags": {tag: "sha256:" + "c" * 64}}}
        assert (
            await client.post(f"{REPO}/events", json=event, headers=world.headers("writer"))
        ).status_code == 201
    bad = await client.post(
        f"{REPO}/notification/",
        json={
            "event": "repo_push",
            "method": "slack",
            "config": {"url": f"https://evil.example.com/{SLACK_PATH}"},
        },
        headers=admin,
    )
    assert bad.status_code == 400

    senders = build_senders(settings, database)
    worker = Worker(database, settings, senders, secret_box(settings), name="leak-test")
    try:
        for _ in range(3):  # first tries and the one retry
            await worker.run_once()
            await worker.drain()
            await worker.run_once()
            await worker.drain()
    finally:
        await worker.finisher.close()
        await senders.close()

    bodies = [bad.text]
    for uuid in uuids:
        bodies.append((await client.get(f"{REPO}/notification/{uuid}", headers=admin)).text)
        listed = await client.get(f"{REPO}/notification/{uuid}/deliveries", headers=admin)
        bodies.append(listed.text)
        for delivery in listed.json()["deliveries"]:
            detail = await client.get(
                f"{REPO}/notification/{uuid}/deliveries/{delivery['id']}", headers=admin
            )
            bodies.append(detail.text)
    bodies.append((await client.get(f"{REPO}/notification/", headers=admin)).text)
    bodies.append((await client.get(f"{REPO}/events", headers=admin)).text)
    bodies.append((await client.get(f"{REPO}/notification/logs", headers=admin)).text)
    bodies.append((await client.get("/metrics")).text)
    # the same, as the admin sees it in the browser: the Settings table, each History, each delivery
    async with database.write() as session:
        admin_user = await session.scalar(select(User).where(User.username == "admin"))
        assert admin_user is not None
        cookie = (await start_session(session, admin_user)).token
    client.cookies.set(COOKIE_NAME, cookie)
    try:
        pages = ["/repository/acme/app?tab=settings", "/repository/acme/app"]
        for uuid in uuids:
            pages.append(f"/repository/acme/app/notification/{uuid}/history")
            listed = await client.get(f"{REPO}/notification/{uuid}/deliveries", headers=admin)
            pages += [
                f"/repository/acme/app/notification/{uuid}/deliveries/{delivery['id']}"
                for delivery in listed.json()["deliveries"]
            ]
        for page in pages:
            shown = await client.get(page)
            assert shown.status_code == 200, (page, shown.status_code)
            bodies.append(shown.text)
    finally:
        client.cookies.clear()
    # each line with its traceback, and every record's fields (as a JSON log shows them); the test
    # receiver's own access log (it serves the secret URLs, of course) is not regnotify's
    ours = [record for record in caplog.records if record.name != "aiohttp.access"]
    lines = logging.Formatter("%(name)s %(levelname)s %(message)s")
    logs = "\n".join(lines.format(record) + str(record.__dict__) for record in ours)

    outcomes = "\n".join(bodies)
    assert (
        "receiver answered HTTP 500" in outcomes and "connection refused" in outcomes
    )  # the failures happened
    assert "succeeded" in outcomes
    assert any("delivery" in record.getMessage() for record in caplog.records)  # attempts were logged
    for secret in secrets:
        assert secret not in logs, f"a log line holds {secret[:6]}…"
        assert secret not in outcomes, f"a response holds {secret[:6]}…"


class Captured(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_no_confirmation_code_in_the_access_log(
    world: World, settings: Settings, database: Database, log_format: str
) -> None:
    """A real uvicorn server, its logging set up as ``serve`` sets it up, serves the confirmation
    link; the access log's lines (as printed, and every field of the records) hold no code."""
    import uvicorn

    from regnotify.app import create_app
    from regnotify.cli import server_options
    from regnotify.db.models import Repository
    from regnotify.notifications.email_addresses import request_verification

    from .conftest import fixed_resolver

    async with database.write() as session:
        repository = await session.scalar(select(Repository).where(Repository.name == "app"))
        assert repository is not None
        code = (await request_verification(session, repository, "new.person@example.com", settings)).code
    assert code is not None
    unknown = "UnknownConfirmationCodeLeak"
    settings.log_format = log_format
    settings.port = free_port()
    saved = {
        name: (list(lg.handlers), list(lg.filters), lg.level, lg.propagate)
        for name in UVICORN_LOGGERS
        for lg in [logging.getLogger(name)]
    }
    captured = Captured()
    try:
        app = create_app(settings, database=database, resolver=fixed_resolver)
        config = uvicorn.Config(app, **server_options(settings))  # sets up logging as `serve` does
        access = logging.getLogger("uvicorn.access")
        access.addHandler(captured)
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            assert not serving.done(), "uvicorn did not start"
            await asyncio.sleep(0.02)
        base = f"http://{settings.host}:{settings.port}"
        async with httpx.AsyncClient(base_url=base) as http:
            shown = await http.get(f"/authrepoemail?code={code}")
            assert shown.status_code == 200 and "new.person@example.com" in shown.text
            assert (await http.get(f"/authrepoemail?utm=mail&code={code}&x=1")).status_code == 200
            assert (await http.get(f"/authrepoemail?code={unknown}")).status_code == 400
            assert (await http.get(f"/nowhere?code={unknown}")).status_code == 404
            confirmed = await http.post("/authrepoemail", data={"code": code})
            assert confirmed.status_code == 200 and "confirmed" in confirmed.text.lower()
            listed = await http.get(f"{REPO}/notification/", headers=world.headers("admin"))
            assert listed.status_code == 200
        server.should_exit = True
        await serving
    finally:
        for name, (handlers, filters, level, propagate) in saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:], lg.filters[:] = handlers, filters
            lg.setLevel(level)
            lg.propagate = propagate

    records = captured.records
    assert sum("/authrepoemail" in record.getMessage() for record in records) == 4  # they were logged
    lines = [AccessFormatter(use_colors=False).format(record) for record in records]
    lines += [JsonFormatter().format(record) + str(record.__dict__) for record in records]
    logged = "\n".join(lines)
    for secret in (code, unknown, *world.tokens.values()):
        assert secret not in logged, f"an access log line holds {secret[:6]}…"
