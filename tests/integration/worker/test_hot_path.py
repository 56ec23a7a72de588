"""The hot path on both databases: claims through the driver, successes recorded together,
failures one by one in order, the next batch claimed in the transaction that records outcomes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update

from regnotify.db.models import Delivery, DeliveryAttempt, Notification
from regnotify.db.types import utcnow
from regnotify.delivery.hot_path import Finisher, Outcome, claim
from regnotify.delivery.queue import Claimed
from regnotify.delivery.retry import RetryPolicy
from regnotify.methods.sending import SendResult

from .conftest import Scene

OK = SendResult(ok=True, status_code=204, response_excerpt="fine", request={"method": "POST"})
FAILED = SendResult(ok=False, status_code=500, error="receiver answered 500")
URL = "http://127.0.0.1:9/hook"  # never contacted: these tests hand the finisher ready outcomes


def finisher(scene: Scene) -> Finisher:
    return Finisher(scene.db, scene.settings, RetryPolicy([60], 60), worker="batch-worker")


async def test_successes_are_recorded_together(scene: Scene) -> None:
    first = await scene.notification("webhook", {"url": URL})
    second = await scene.notification("webhook", {"url": URL})
    async with scene.db.write() as s:  # both had failures: a success resets the count
        await s.execute(update(Notification).values(number_of_failures=2))
    for tag in ("a", "b", "c"):
        await scene.push(tag)
    claimed = await claim(scene.db, limit=10, lease_seconds=60, worker="batch-worker")
    assert len(claimed) == 6
    done = finisher(scene)
    started = utcnow()
    outcomes = await asyncio.gather(*(done.submit(item, OK, started) for item in claimed))
    await done.close()

    assert [o.state if o else None for o in outcomes] == ["succeeded"] * 6
    deliveries = await scene.rows(Delivery)
    assert {(d.state, d.attempts, d.last_status_code, d.lease_owner) for d in deliveries} == {
        ("succeeded", 1, 204, None)
    }
    assert all(d.finished_at is not None for d in deliveries)
    attempts = await scene.rows(DeliveryAttempt)
    assert sorted(a.delivery_id for a in attempts) == sorted(d.id for d in deliveries)
    assert {(a.number, a.outcome, a.status_code, a.response_excerpt, a.worker) for a in attempts} == {
        (1, "succeeded", 204, "fine", "batch-worker")
    }
    assert attempts[0].request == {"method": "POST"}
    assert [n.number_of_failures for n in await scene.rows(Notification)] == [0, 0]
    assert {first.id, second.id} == {n.id for n in await scene.rows(Notification)}


async def test_a_lost_lease_in_a_batch_drops_only_that_outcome(scene: Scene) -> None:
    await scene.notification("webhook", {"url": URL})
    await scene.push("a")
    await scene.push("b")
    claimed = await claim(scene.db, limit=10, lease_seconds=60, worker="batch-worker")
    lost = claimed[0]
    async with scene.db.write() as s:  # the lease ran out and another worker took the row
        await s.execute(
            update(Delivery)
            .where(Delivery.id == lost.delivery_id)
            .values(lease_owner="other:token", lease_expires_at=utcnow() + timedelta(seconds=60))
        )
    done = finisher(scene)
    outcomes = await asyncio.gather(*(done.submit(item, OK, utcnow()) for item in claimed))
    await done.close()

    assert outcomes[0] is None and outcomes[1] is not None and outcomes[1].state == "succeeded"
    by_id = {d.id: d for d in await scene.rows(Delivery)}
    assert (by_id[lost.delivery_id].state, by_id[lost.delivery_id].lease_owner) == ("pending", "other:token")
    assert [a.delivery_id for a in await scene.rows(DeliveryAttempt)] == [claimed[1].delivery_id]


async def test_a_failure_and_a_success_of_one_notification_keep_their_order(scene: Scene) -> None:
    """One notification's outcomes in one batch: a failure then a success leaves the count at 0."""
    await scene.notification("webhook", {"url": URL})
    await scene.push("a")
    await scene.push("b")
    claimed = await claim(scene.db, limit=10, lease_seconds=60, worker="batch-worker")
    done = finisher(scene)
    outcomes = await asyncio.gather(
        done.submit(claimed[0], FAILED, utcnow()), done.submit(claimed[1], OK, utcnow())
    )
    await done.close()

    assert [o.state if o else None for o in outcomes] == ["pending", "succeeded"]  # the failure retries
    (notification,) = await scene.rows(Notification)
    assert notification.number_of_failures == 0
    states = {d.id: (d.state, d.attempts) for d in await scene.rows(Delivery)}
    assert states == {claimed[0].delivery_id: ("pending", 1), claimed[1].delivery_id: ("succeeded", 1)}


async def test_a_successful_test_delivery_leaves_the_failure_count(scene: Scene) -> None:
    await scene.notification("webhook", {"url": URL})
    async with scene.db.write() as s:
        await s.execute(update(Notification).values(number_of_failures=4))
    await scene.push()
    async with scene.db.write() as s:
        await s.execute(update(Delivery).values(is_test=True))
    (claimed,) = await claim(scene.db, limit=10, lease_seconds=60, worker="batch-worker")
    done = finisher(scene)
    outcome = await done.submit(claimed, OK, utcnow())
    await done.close()

    assert outcome is not None and outcome.state == "succeeded"
    (notification,) = await scene.rows(Notification)
    assert notification.number_of_failures == 4


@pytest.mark.parametrize("first", [OK, FAILED], ids=["successes", "a-failure"])
async def test_the_next_batch_is_claimed_in_the_transaction_that_records_outcomes(
    scene: Scene, first: SendResult
) -> None:
    """With room for more, the finisher leases the next due rows in the same transaction (both the
    steady-state path and the one-by-one path of a batch with a failure) and hands them over."""
    await scene.notification("webhook", {"url": URL})
    for tag in ("a", "b", "c", "d", "e", "f"):
        await scene.push(tag)
    claimed = await claim(scene.db, limit=2, lease_seconds=60, worker="batch-worker")
    recorded: list[list[Outcome]] = []
    handed: list[tuple[list[Claimed], int]] = []

    async def on_claimed(more: list[Claimed], reserved: int) -> None:
        handed.append((more, reserved))

    done = Finisher(
        scene.db,
        scene.settings,
        RetryPolicy([60], 60),
        worker="batch-worker",
        on_recorded=recorded.append,
        room=lambda batch: 3,
        on_claimed=on_claimed,
    )
    outcomes = await asyncio.gather(
        done.submit(claimed[0], first, utcnow()), done.submit(claimed[1], OK, utcnow())
    )
    await done.close()

    assert [o.state if o else None for o in outcomes] == [
        "succeeded" if first.ok else "pending",
        "succeeded",
    ]
    assert [[item.claimed.delivery_id for item in batch] for batch in recorded] == [
        [c.delivery_id for c in claimed]
    ]
    [(more, reserved)] = handed
    assert reserved == 3 and len(more) == 3
    assert len({c.lease_token for c in more}) == 1 and more[0].lease_token != claimed[0].lease_token
    assert {c.delivery_id for c in more}.isdisjoint(c.delivery_id for c in claimed)
    assert all(c.event.payload["updated_tags"] and "url" in c.notification.config for c in more)
    leases = {d.id: (d.state, d.lease_owner) for d in await scene.rows(Delivery)}
    assert [leases[c.delivery_id] for c in more] == [("pending", more[0].lease_token)] * 3
    # a retried failure is pending again with its lease cleared, beside the one row left unclaimed
    unleased = [owner is None for state, owner in leases.values() if state == "pending"]
    assert sorted(unleased) == [False, False, False, True] + ([] if first.ok else [True])
