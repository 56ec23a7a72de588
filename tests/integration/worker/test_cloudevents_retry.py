"""A webhook sent as CloudEvents through the real worker, on both databases: after a 500 the retry
carries the same event (id = ``webhook-id`` = the delivery id, the same time and body), each try
signed, read back with the ``cloudevents`` SDK as a receiver would."""

from __future__ import annotations

from datetime import datetime

import pytest
from cloudevents.http import from_http
from standardwebhooks.webhooks import Webhook

from regnotify.db.models import Delivery, DeliveryAttempt, Event
from regnotify.delivery.worker import Worker
from regnotify.methods.webhook import generate_secret

from .conftest import DIGEST, Scene
from .draining import work_off
from .test_worker import Receiver
from .test_worker import receiver as receiver  # the fixtures
from .test_worker import worker as worker

FORMATS = ("cloudevents", "cloudevents-binary")
SOURCE = "https://regnotify.test/repository/acme/app"


@pytest.mark.parametrize("fmt", FORMATS)
async def test_a_retry_carries_the_same_event_and_each_try_is_signed(
    fmt: str, scene: Scene, worker: Worker, receiver: Receiver
) -> None:
    secret = generate_secret()
    receiver.script = [(500, {})]
    await scene.notification("webhook", {"url": receiver.url, "format": fmt, "secret": secret})
    await scene.push("v3")

    await work_off(worker)

    (delivery,) = await scene.rows(Delivery)
    assert (delivery.state, delivery.attempts) == ("succeeded", 2)
    assert [a.status_code for a in await scene.rows(DeliveryAttempt)] == [500, 200]
    (stored,) = await scene.rows(Event)
    assert stored.payload["updated_tags"] == {"v3": DIGEST}
    assert len(receiver.received) == 2
    for request in receiver.received:
        headers, body = request["headers"], request["raw"]
        event = from_http(headers, body)
        assert event["id"] == headers["webhook-id"] == delivery.uuid
        assert event["specversion"] == "1.0"
        assert event["type"] == "io.regnotify.repo_push"
        assert event["source"] == SOURCE == stored.payload["homepage"]
        assert event["subject"] == "v3"
        assert datetime.fromisoformat(event["time"]) == stored.received_at
        assert event.data == stored.payload
        Webhook(secret).verify(body, headers)
    first, second = receiver.received
    assert first["raw"] == second["raw"]
    assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
