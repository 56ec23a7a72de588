"""Chat notifications at most N messages a minute: the rest wait, none fails or is dropped."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from regnotify.db.models import Delivery, DeliveryAttempt, Notification
from regnotify.db.types import utcnow
from regnotify.delivery.worker import Worker

from .conftest import Scene
from .test_worker import Receiver, receiver, work_off, worker  # noqa: F401 (fixtures)


async def test_chat_messages_over_the_rate_wait_their_turn(
    scene: Scene,
    worker: Worker,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    worker.pacer.per_minute = 3
    slack = await scene.notification("slack", {"url": receiver.url})
    webhook = await scene.notification("webhook", {"url": receiver.url})
    for index in range(5):
        await scene.push(f"t{index}")
    await work_off(worker)

    deliveries = await scene.rows(Delivery)
    slack_states = sorted(d.state for d in deliveries if d.notification_id == slack.id)
    assert slack_states == ["pending", "pending", "succeeded", "succeeded", "succeeded"]
    assert all(d.state == "succeeded" for d in deliveries if d.notification_id == webhook.id)  # not paced
    waiting = [d for d in deliveries if d.state == "pending"]
    first_sent = min(a.started_at for a in await scene.rows(DeliveryAttempt))
    assert all(d.attempts == 0 and d.lease_owner is None for d in waiting)  # no attempt made or counted
    assert all(d.next_attempt_at >= first_sent + timedelta(seconds=59) for d in waiting)
    assert [n.number_of_failures for n in await scene.rows(Notification)] == [0, 0]
    assert len(receiver.received) == 8

    # a minute later (moved back in time here), the window has room and the rest go out
    async with scene.db.write() as session:
        await session.execute(update(DeliveryAttempt).values(started_at=utcnow() - timedelta(seconds=61)))
        await session.execute(
            update(Delivery).where(Delivery.state == "pending").values(next_attempt_at=utcnow())
        )
    worker.pacer._sent.clear()  # this worker's own memory of the minute passes too
    await work_off(worker)
    assert {d.state for d in await scene.rows(Delivery)} == {"succeeded"}
    assert len(receiver.received) == 10


async def test_without_a_rate_nothing_waits(
    scene: Scene,
    worker: Worker,  # noqa: F811
    receiver: Receiver,  # noqa: F811
) -> None:
    assert worker.pacer.per_minute is None  # the default
    await scene.notification("slack", {"url": receiver.url})
    for index in range(5):
        await scene.push(f"t{index}")
    await work_off(worker)
    assert {d.state for d in await scene.rows(Delivery)} == {"succeeded"}
