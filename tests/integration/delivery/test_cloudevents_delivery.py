"""CloudEvents out, as a receiver sees it: what reaches a real local receiver is parsed with the
``cloudevents`` SDK (``from_http``) and its Standard Webhooks signature checked with ``standardwebhooks``.

The first tests send one attempt through the webhook method; the last ones go through the worker on
both databases, with a receiver that fails the first try, so the retry shows the id holding still.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web
from cloudevents.http import CloudEvent, from_http
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from regnotify import accounts
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, DeliveryAttempt, Event, Notification
from regnotify.delivery.senders import build_senders
from regnotify.delivery.worker import Worker
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from regnotify.methods import get_method
from regnotify.methods.webhook import WebhookMethod, generate_secret
from regnotify.runtime.crypto import secret_box

from ..worker.draining import work_off
from .conftest import MakeSenders
from .receiver import Received, Receiver
from .support import REPO, make_outgoing

WHEN = datetime(2024, 5, 1, 12, 30, 15, 250000, tzinfo=UTC)
SOURCE = "https://regnotify.test/repository/acme/app"
DIGEST = "sha256:" + "c" * 64
FORMATS = ("cloudevents", "cloudevents-binary")


def parsed(request: Received) -> CloudEvent:
    """The request as the CloudEvents SDK reads it, the way a receiver would."""
    return from_http(request.headers, request.body)


@pytest.fixture
def public_senders(make_senders: MakeSenders) -> Any:
    return make_senders(public_base_url="https://regnotify.test")


@pytest.mark.parametrize("fmt", FORMATS)
async def test_each_mode_reads_back_as_the_event_with_the_payload_as_data(
    fmt: str, receiver: Receiver, public_senders: Any
) -> None:
    secret = generate_secret()
    payload = get_event_kind("repo_push").build_payload(
        REPO, {"updated_tags": {"v2": DIGEST, "latest": DIGEST}}
    )
    outgoing = make_outgoing("repo_push", payload=payload, occurred_at=WHEN)
    config = {"url": f"{receiver.base_url}/ce", "format": fmt, "secret": secret}

    result = await WebhookMethod().send(config, outgoing, public_senders)

    assert result.ok, result.error
    [request] = receiver.requests
    event = parsed(request)
    assert event["specversion"] == "1.0"
    assert event["id"] == outgoing.delivery_id == request.headers["webhook-id"]
    assert event["type"] == "io.regnotify.repo_push"
    assert event["source"] == SOURCE == payload["homepage"]
    assert event["subject"] == "v2"
    assert datetime.fromisoformat(event["time"]) == WHEN
    assert event.data == payload
    assert Webhook(secret).verify(request.body, request.headers) is not None
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body + b" ", request.headers)
    assert request.headers["X-Regnotify-Event"] == "repo_push"


async def test_structured_mode_is_one_json_document(receiver: Receiver, public_senders: Any) -> None:
    outgoing = make_outgoing("build_failure", occurred_at=WHEN)
    config = {"url": receiver.base_url, "format": "cloudevents"}

    result = await WebhookMethod().send(config, outgoing, public_senders)

    assert result.ok, result.error
    [request] = receiver.requests
    assert request.headers["Content-Type"] == "application/cloudevents+json"
    assert not [name for name in request.headers if name.lower().startswith("ce-")]
    assert json.loads(request.body) == {
        "specversion": "1.0",
        "id": outgoing.delivery_id,
        "source": SOURCE,
        "type": "io.regnotify.build_failure",
        "subject": "latest",
        "time": "2024-05-01T12:30:15.250000Z",
        "datacontenttype": "application/json",
        "data": outgoing.payload,
    }
    assert parsed(request)["source"] == SOURCE  # the repository, though a build's homepage is its page


async def test_binary_mode_sends_ce_headers_and_the_bare_payload(
    receiver: Receiver, public_senders: Any
) -> None:
    outgoing = make_outgoing("repo_push", occurred_at=WHEN)
    config = {"url": receiver.base_url, "format": "cloudevents-binary"}

    result = await WebhookMethod().send(config, outgoing, public_senders)

    assert result.ok, result.error
    [request] = receiver.requests
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["ce-specversion"] == "1.0"
    assert request.headers["ce-id"] == outgoing.delivery_id
    assert request.headers["ce-source"] == SOURCE
    assert request.headers["ce-type"] == "io.regnotify.repo_push"
    assert request.headers["ce-subject"] == "latest"
    assert request.headers["ce-time"] == "2024-05-01T12:30:15.250000Z"
    assert json.loads(request.body) == outgoing.payload
    assert result.request["headers"]["ce-type"] == "io.regnotify.repo_push"  # the attempt log shows them


async def test_an_event_without_tag_or_time_leaves_both_out(receiver: Receiver, public_senders: Any) -> None:
    outgoing = make_outgoing("repo_mirror_sync_failed")
    for fmt in FORMATS:
        await WebhookMethod().send({"url": receiver.base_url, "format": fmt}, outgoing, public_senders)
    structured, binary = receiver.requests
    assert not {"subject", "time"} & set(json.loads(structured.body))
    assert not {"ce-subject", "ce-time"} & {name.lower() for name in binary.headers}
    for request in (structured, binary):
        event = parsed(request)
        assert "subject" not in event.get_attributes()  # (the SDK fills a missing time with its own clock)
        assert event.data == outgoing.payload


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_template_renders_the_data(fmt: str, receiver: Receiver, public_senders: Any) -> None:
    secret = generate_secret()
    template = json.dumps({"repo": "${repository}", "tags": "${updated_tags}", "note": "to ${namespace}"})
    outgoing = make_outgoing("repo_push", occurred_at=WHEN)
    config = {"url": receiver.base_url, "format": fmt, "template": template, "secret": secret}

    result = await WebhookMethod().send(config, outgoing, public_senders)

    assert result.ok, result.error
    [request] = receiver.requests
    event = parsed(request)
    assert event.data == {"repo": "acme/app", "tags": outgoing.payload["updated_tags"], "note": "to acme"}
    assert event["type"] == "io.regnotify.repo_push"
    Webhook(secret).verify(request.body, request.headers)


async def test_the_quay_format_is_the_bare_payload_as_before(receiver: Receiver, public_senders: Any) -> None:
    outgoing = make_outgoing("repo_push", occurred_at=WHEN)
    await WebhookMethod().send({"url": receiver.base_url, "format": "quay"}, outgoing, public_senders)
    await WebhookMethod().send({"url": receiver.base_url}, outgoing, public_senders)
    explicit, absent = receiver.requests
    assert explicit.body == absent.body
    assert json.loads(explicit.body) == outgoing.payload
    for request in (explicit, absent):
        assert request.headers["Content-Type"] == "application/json"
        assert not [name for name in request.headers if name.lower().startswith("ce-")]


async def test_an_unknown_stored_format_sends_nothing(receiver: Receiver, public_senders: Any) -> None:
    config = {"url": receiver.base_url, "format": "cloudevents-json"}
    result = await WebhookMethod().send(config, make_outgoing(), public_senders)
    assert not result.ok and result.permanent
    assert result.error == (
        "webhook format 'cloudevents-json' is unknown; use one of: quay, cloudevents, cloudevents-binary"
    )
    assert receiver.requests == []


# -- through the worker, on both databases -------------------------------------------------------


@dataclass
class FlakyReceiver:
    """A local receiver that answers 500 to the first request and 200 after; keeps what it got."""

    url: str = ""
    failures_left: int = 1
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)


@pytest.fixture
async def flaky() -> AsyncIterator[FlakyReceiver]:
    state = FlakyReceiver()

    async def handle(request: web.Request) -> web.Response:
        state.requests.append((dict(request.headers), await request.read()))
        if state.failures_left:
            state.failures_left -= 1
            return web.Response(status=500, text="try again")
        return web.Response(status=200, text="ok")

    app = web.Application()
    app.router.add_post("/hook", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state.url = f"http://127.0.0.1:{port}/hook"
    yield state
    await runner.cleanup()


@pytest.fixture
def worker_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "outbound_allowed_networks": ["127.0.0.1/32"],
            "retry_schedule": [0.01, 0.01],
            "poll_interval": 0.05,
            "http_total_timeout": 5,
        }
    )


@pytest.fixture
async def worker(database: Database, worker_settings: Settings) -> AsyncIterator[Worker]:
    senders = build_senders(worker_settings, database)
    running = Worker(database, worker_settings, senders, secret_box(worker_settings), name="ce-worker")
    yield running
    await running.finisher.close()
    await senders.close()


async def _rows(database: Database, model: Any) -> list[Any]:
    async with database.read() as session:
        return list(await session.scalars(select(model).order_by(model.id)))


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_retry_carries_the_same_event_and_each_try_is_signed(
    fmt: str, database: Database, worker_settings: Settings, worker: Worker, flaky: FlakyReceiver
) -> None:
    secret = generate_secret()
    async with database.write() as session:
        await accounts.create_organization(
            session, "acme", admins=[await accounts.create_user(session, "ann")]
        )
        repository = await accounts.create_repository(session, "acme/app")
        config = {"url": flaky.url, "format": fmt, "secret": secret}
        session.add(
            Notification(
                uuid=str(uuid.uuid4()),
                repository_id=repository.id,
                event="repo_push",
                method="webhook",
                config=get_method("webhook").seal(config, secret_box(worker_settings)),
                event_config={},
            )
        )
        await session.flush()
        kind = get_event_kind("repo_push")
        payload = kind.build_payload(
            repository_ref(repository, worker_settings), {"updated_tags": {"v3": DIGEST}}
        )
        await record_event(session, repository, kind, payload, source="test")

    await work_off(worker)

    (delivery,) = await _rows(database, Delivery)
    assert (delivery.state, delivery.attempts) == ("succeeded", 2)
    assert [a.status_code for a in await _rows(database, DeliveryAttempt)] == [500, 200]
    (stored,) = await _rows(database, Event)
    assert len(flaky.requests) == 2
    for headers, body in flaky.requests:
        event = from_http(headers, body)
        assert event["id"] == headers["webhook-id"] == delivery.uuid
        assert event["specversion"] == "1.0"
        assert event["type"] == "io.regnotify.repo_push"
        assert event["source"] == SOURCE == stored.payload["homepage"]
        assert event["subject"] == "v3"
        assert datetime.fromisoformat(event["time"]) == stored.received_at
        assert event.data == stored.payload
        Webhook(secret).verify(body, headers)
    (first_headers, first_body), (second_headers, second_body) = flaky.requests
    assert first_body == second_body
    assert first_headers["webhook-id"] == second_headers["webhook-id"]
