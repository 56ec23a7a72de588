"""A webhook template past its work budget fails its own delivery (retried like any failure, the
budget error in the attempt log) and nobody else's: the same event still reaches another receiver."""

from __future__ import annotations

import json
from typing import Any

from regnotify.db.models import Delivery, DeliveryAttempt, Notification
from regnotify.delivery.worker import Worker
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref

from .conftest import Scene
from .test_worker import Receiver, receiver, work_off, worker  # noqa: F401 (fixtures)

HOSTILE = json.dumps({f"k{i}": "${*.*.*.zz}" for i in range(1000)})
PLAIN = json.dumps({"build": "${build_id}", "tags": "${docker_tags}"})
BUDGET_ERROR = (
    "webhook template could not be rendered: the template needs more than 200,000 steps of work for "
    "this event (setting REGNOTIFY_TEMPLATE_MAX_STEPS); simplify its ${…} expressions"
)


async def record_big_build(scene: Scene) -> None:
    """A build_success event of about 700 KB (a long file list in its trigger metadata)."""
    kind = get_event_kind("build_success")
    payload: dict[str, Any] = kind.sample_payload(repository_ref(scene.repository, scene.settings))
    payload["trigger_metadata"]["files"] = [
        {"path": f"src/module{i}/file.py", "size": i, "mode": "100644"} for i in range(12_000)
    ]
    assert len(json.dumps(payload)) > 600_000
    async with scene.db.write() as session:
        await record_event(session, scene.repository, kind, payload, source="test")


async def test_a_template_over_budget_fails_alone_and_is_retried(
    scene: Scene,
    worker: Worker,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    # Stored directly: create renders the small sample build, on which this template is within budget.
    hostile = await scene.notification(
        "webhook", {"url": receiver.url + "?who=hostile", "template": HOSTILE}, event="build_success"
    )
    plain = await scene.notification(
        "webhook", {"url": receiver.url + "?who=plain", "template": PLAIN}, event="build_success"
    )
    await record_big_build(scene)

    await worker.run_once()  # one attempt each
    await worker.drain()

    deliveries = {d.notification_id: d for d in await scene.rows(Delivery)}
    assert deliveries[plain.id].state == "succeeded"
    assert [r["body"] for r in receiver.received] == [
        {"build": "build_uuid", "tags": ["latest", "foo", "bar"]}
    ]
    failed = deliveries[hostile.id]
    assert (failed.state, failed.attempts, failed.last_error) == ("pending", 1, BUDGET_ERROR)
    assert failed.next_attempt_at is not None and failed.finished_at is None  # a retry is scheduled
    (attempt,) = [a for a in await scene.rows(DeliveryAttempt) if a.delivery_id == failed.id]
    assert (attempt.outcome, attempt.status_code, attempt.error) == ("failed", None, BUDGET_ERROR)

    await work_off(worker)  # the retries (10 ms apart here) fail the same way, then it gives up
    given_up = next(d for d in await scene.rows(Delivery) if d.id == failed.id)
    assert (given_up.state, given_up.attempts) == ("failed", 3)
    errors = [a.error for a in await scene.rows(DeliveryAttempt) if a.delivery_id == failed.id]
    assert errors == [BUDGET_ERROR] * 3
    assert len(receiver.received) == 1  # nothing was ever sent for the hostile template
    notifications = {n.id: n for n in await scene.rows(Notification)}
    assert notifications[hostile.id].number_of_failures == 3  # counted like any failure
    assert notifications[plain.id].number_of_failures == 0 and notifications[plain.id].enabled


async def test_the_budget_setting_is_read_at_send(
    scene: Scene,
    worker: Worker,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    await scene.notification("webhook", {"url": receiver.url, "template": PLAIN.replace("build", "push")})
    heavy = await scene.notification(
        "webhook", {"url": receiver.url, "template": json.dumps({f"k{i}": "${$}" for i in range(40)})}
    )
    await scene.push("v1")
    await work_off(worker)
    assert len(receiver.received) == 2  # forty copies of a push fit in the default budget

    worker.senders.settings.template_max_steps = 1000  # ...not in the smallest one allowed
    await scene.push("v2")
    await worker.run_once()
    await worker.drain()
    deliveries = await scene.rows(Delivery)
    v2 = max(d.event_id for d in deliveries)
    latest = {d.notification_id: d for d in deliveries if d.event_id == v2}
    assert latest[heavy.id].state == "pending"
    assert "more than 1,000 steps" in (latest[heavy.id].last_error or "")
    assert [d.state for n, d in latest.items() if n != heavy.id] == ["succeeded"]
    assert len(receiver.received) == 3
