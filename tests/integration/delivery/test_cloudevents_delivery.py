"""CloudEvents out, as a receiver sees it: what reaches a real local receiver is parsed with the
``cloudevents`` SDK (``from_http``) and its Standard Webhooks signature checked with ``standardwebhooks``.

Each test sends one attempt through the webhook method; the retry through the worker, on both
databases, is in ``tests/integration/worker/test_cloudevents_retry.py``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.http import CloudEvent, from_http
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from regnotify.events import get_event_kind
from regnotify.methods.webhook import WebhookMethod, generate_secret

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
