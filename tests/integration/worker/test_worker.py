"""The worker end to end on both databases: real HTTP receivers, retries, auto-disable, leases."""

from __future__ import annotations

import asyncio
import json
import mailbox
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select, update

from regnotify.db.models import (
    AuthorizedEmail,
    Delivery,
    DeliveryAttempt,
    Event,
    InboxItem,
    Notification,
    NotificationChange,
    Repository,
)
from regnotify.db.types import utcnow
from regnotify.delivery.hot_path import claim
from regnotify.delivery.outcome import finish
from regnotify.delivery.retry import RetryPolicy
from regnotify.delivery.senders import WorkerSenders, build_senders
from regnotify.delivery.worker import Worker
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from regnotify.jobs.retention import purge
from regnotify.methods.sending import SendResult
from regnotify.notifications.registry import reset_failures

from .conftest import DIGEST, Scene
from .draining import work_off


@dataclass
class Receiver:
    """A local HTTP receiver answering with the statuses queued in ``script`` (then 200)."""

    url: str = ""
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def handle(request: web.Request) -> web.Response:
        raw = await request.read()
        state.received.append({"headers": dict(request.headers), "body": json.loads(raw), "raw": raw})
        status, headers = state.script.pop(0) if state.script else (200, {})
        return web.Response(status=status, headers=headers, text="ok" if status < 300 else "nope")

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
async def worker(scene: Scene) -> AsyncIterator[Worker]:
    senders: WorkerSenders = build_senders(scene.settings, scene.db)
    worker = Worker(scene.db, scene.settings, senders, scene.box, name="test-worker")
    yield worker
    await worker.finisher.close()
    await senders.close()


async def test_webhook_delivery_succeeds_and_is_logged(
    scene: Scene, worker: Worker, receiver: Receiver
) -> None:
    await scene.notification("webhook", {"url": receiver.url, "secret": "whsec_" + "A" * 32})
    await scene.push()
    await work_off(worker)
    assert len(receiver.received) == 1
    assert receiver.received[0]["body"]["updated_tags"] == {"latest": DIGEST}
    (delivery,) = await scene.rows(Delivery)
    assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 200)
    assert receiver.received[0]["headers"]["webhook-id"] == delivery.uuid
    (attempt,) = await scene.rows(DeliveryAttempt)
    assert (attempt.outcome, attempt.number, attempt.worker) == ("succeeded", 1, "test-worker")


async def test_failures_retry_then_give_up(scene: Scene, worker: Worker, receiver: Receiver) -> None:
    receiver.script = [(500, {})] * 10
    scene.settings.failure_threshold = 100
    await scene.notification("webhook", {"url": receiver.url})
    await scene.push("one")
    await work_off(worker)
    (delivery,) = await scene.rows(Delivery)
    assert (delivery.state, delivery.attempts) == ("failed", 3)  # first try + two retries
    attempts = await scene.rows(DeliveryAttempt)
    assert [a.status_code for a in attempts] == [500, 500, 500]
    (stored,) = await scene.rows(Notification)
    assert stored.number_of_failures == 3 and stored.enabled is True


async def test_consecutive_failures_disable_hold_and_release(
    scene: Scene, worker: Worker, receiver: Receiver
) -> None:
    receiver.script = [(500, {})] * 10
    notification = await scene.notification("webhook", {"url": receiver.url})
    for tag in ("one", "two", "three"):
        await scene.push(tag)
    await work_off(worker)
    (stored,) = await scene.rows(Notification)
    assert stored.number_of_failures == 3 and stored.enabled is False  # the threshold is 3 here
    notices = await scene.rows(InboxItem)
    assert [(n.kind, n.user_id) for n in notices] == [("notification_disabled", scene.admin.id)]
    assert notices[0].item_metadata["notification_uuid"] == notification.uuid
    (mail,) = list(mailbox.Maildir(scene.settings.data_dir / "maildir", create=False))
    assert mail["To"] == "admin@example.com" and "Notification disabled in acme/app" in mail["Subject"]
    (change,) = await scene.rows(NotificationChange)  # the audit log says the system did it, and why
    assert (change.kind, change.performer, change.notification_uuid) == (
        "disable_repo_notification",
        None,
        notification.uuid,
    )
    assert change.change_metadata["reason"] == "3 consecutive failed attempts"

    # while disabled, pending deliveries are held: not sent, not dropped
    sent_so_far = len(receiver.received)
    held = [d for d in await scene.rows(Delivery) if d.state == "pending"]
    assert held and sent_so_far == 3
    await work_off(worker)
    assert len(receiver.received) == sent_so_far

    # re-enabling lets the held deliveries go out (the receiver now answers 200)
    receiver.script = []
    async with scene.db.write() as s:
        target = await s.get(Notification, notification.id)
        assert target is not None
        await reset_failures(s, target, None)
    await work_off(worker)
    by_id = {d.id: d.state for d in await scene.rows(Delivery)}
    assert all(by_id[d.id] == "succeeded" for d in held)
    assert "pending" not in by_id.values()
    (stored,) = await scene.rows(Notification)
    assert stored.number_of_failures == 0 and stored.enabled


async def test_gone_disables_at_once(scene: Scene, worker: Worker, receiver: Receiver) -> None:
    receiver.script = [(410, {})]
    await scene.notification("webhook", {"url": receiver.url})
    await scene.push()
    await work_off(worker)
    (delivery,) = await scene.rows(Delivery)
    assert (delivery.state, delivery.attempts) == ("failed", 1)
    (stored,) = await scene.rows(Notification)
    assert stored.enabled is False


async def test_success_resets_the_failure_count(scene: Scene, worker: Worker, receiver: Receiver) -> None:
    receiver.script = [(503, {}), (200, {})]
    await scene.notification("webhook", {"url": receiver.url})
    await scene.push()
    await work_off(worker)
    (delivery,) = await scene.rows(Delivery)
    assert (delivery.state, delivery.attempts) == ("succeeded", 2)
    (stored,) = await scene.rows(Notification)
    assert stored.number_of_failures == 0 and stored.enabled


async def test_in_app_notices_reach_readers_once(scene: Scene, worker: Worker) -> None:
    await scene.notification("quay_notification", {"target": {"kind": "user", "name": "reader"}})
    await scene.notification("quay_notification", {"target": {"kind": "org", "name": "acme"}})
    await scene.push()
    await work_off(worker)
    notices = await scene.rows(InboxItem)
    assert sorted(n.user_id for n in notices) == sorted([scene.reader.id, scene.admin.id])
    assert all(n.kind == "repo_push" and n.item_metadata["repository"] == "acme/app" for n in notices)
    # a redelivery of the same delivery (lease lost after sending) adds nothing
    async with scene.db.write() as s:
        await s.execute(update(Delivery).values(state="pending", next_attempt_at=utcnow()))
    await work_off(worker)
    assert len(await scene.rows(InboxItem)) == 2


async def test_tests_go_out_while_disabled_and_do_not_count(
    scene: Scene, worker: Worker, receiver: Receiver
) -> None:
    receiver.script = [(500, {})]
    notification = await scene.notification("webhook", {"url": receiver.url})
    async with scene.db.write() as s:
        await s.execute(update(Notification).values(enabled=False, number_of_failures=7))
        repo = await s.get(Repository, scene.repository.id)
        target = await s.get(Notification, notification.id)
        assert repo is not None and target is not None
        kind = get_event_kind("repo_push")
        await record_event(
            s,
            repo,
            kind,
            kind.sample_payload(repository_ref(repo, scene.settings)),
            source="t",
            test_for=target,
        )
    await work_off(worker)
    (delivery,) = await scene.rows(Delivery)
    assert (delivery.state, delivery.attempts) == ("failed", 1)  # tests are tried once
    (stored,) = await scene.rows(Notification)
    assert stored.number_of_failures == 7


async def test_a_lost_lease_is_never_finished_twice(scene: Scene, receiver: Receiver) -> None:
    await scene.notification("webhook", {"url": receiver.url})
    await scene.push()
    first = await claim(scene.db, limit=10, lease_seconds=60, worker="a")
    assert len(first) == 1
    assert await claim(scene.db, limit=10, lease_seconds=60, worker="b") == []  # leased
    async with scene.db.write() as s:  # the lease runs out (worker a stalled)
        await s.execute(update(Delivery).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    second = await claim(scene.db, limit=10, lease_seconds=60, worker="b")
    assert len(second) == 1
    policy = RetryPolicy([1], 60)
    result = SendResult(ok=True, status_code=200)
    late = await finish(
        scene.db, first[0], result, started_at=utcnow(), policy=policy, failure_threshold=3, worker="a"
    )
    assert late is None
    done = await finish(
        scene.db, second[0], result, started_at=utcnow(), policy=policy, failure_threshold=3, worker="b"
    )
    assert done is not None and done.state == "succeeded"
    assert len(await scene.rows(DeliveryAttempt)) == 1


async def test_concurrent_claims_take_disjoint_rows(scene: Scene, receiver: Receiver) -> None:
    await scene.notification("webhook", {"url": receiver.url})
    for index in range(30):
        await scene.push(f"t{index}")
    batches = await asyncio.gather(
        *(claim(scene.db, limit=7, lease_seconds=60, worker=f"w{i}") for i in range(6))
    )
    ids = [c.delivery_id for batch in batches for c in batch]
    assert len(ids) == 30 and len(set(ids)) == 30


@pytest.mark.postgres_only  # LISTEN/NOTIFY is PostgreSQL's; SQLite polls
async def test_running_worker_wakes_on_notify_and_stops_cleanly(scene: Scene) -> None:
    """With a poll interval far longer than the wait, only PostgreSQL's NOTIFY can wake the worker."""
    settings = scene.settings.model_copy(update={"poll_interval": 120.0})
    senders = build_senders(settings, scene.db)
    worker = Worker(scene.db, settings, senders, scene.box, name="listener")
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop))
    try:
        await asyncio.sleep(0.5)  # let it listen and go idle
        await scene.notification("quay_notification", {"target": {"kind": "user", "name": "reader"}})
        await scene.push()
        for _ in range(100):
            if await scene.rows(InboxItem):
                break
            await asyncio.sleep(0.1)
        assert len(await scene.rows(InboxItem)) == 1
    finally:
        stop.set()
        await asyncio.wait_for(running, timeout=10)
        await senders.close()


async def test_email_goes_only_to_addresses_still_confirmed(scene: Scene, worker: Worker) -> None:
    """With no SMTP server configured, mail lands in the data directory's maildir."""
    async with scene.db.write() as s:
        s.add(
            AuthorizedEmail(
                repository_id=scene.repository.id, email="ok@example.com", confirmed=True, send_count=0
            )
        )
        s.add(
            AuthorizedEmail(
                repository_id=scene.repository.id, email="gone@example.com", confirmed=False, send_count=0
            )
        )
    await scene.notification("email", {"email": "ok@example.com"})
    await scene.notification("email", {"email": "gone@example.com"})
    await scene.push()
    await work_off(worker)
    outcomes = {d.last_error or "": (d.state, d.attempts) for d in await scene.rows(Delivery)}
    assert sorted(outcomes.values()) == [("failed", 1), ("succeeded", 1)]  # the refusal is not retried
    assert any("no longer authorized" in error for error in outcomes)
    maildir = mailbox.Maildir(scene.settings.data_dir / "maildir", create=False)
    (message,) = list(maildir)
    assert message["To"] == "ok@example.com"
    assert message["Subject"] == "[regnotify] Repository acme/app updated"


async def test_purge_keeps_pending_and_recent_deliveries(
    scene: Scene, worker: Worker, receiver: Receiver
) -> None:
    await scene.notification("webhook", {"url": receiver.url})
    for tag in ("old-done", "recent-done", "old-pending"):
        await scene.push(tag)
    long_ago = utcnow() - timedelta(days=40)
    async with scene.db.write() as s:
        rows = {d.id: d for d in await s.scalars(select(Delivery).order_by(Delivery.id))}
        old_done, recent_done, old_pending = rows.values()
        old_done.state, old_done.finished_at = "succeeded", long_ago
        recent_done.state, recent_done.finished_at = "failed", utcnow()
        for event in await s.scalars(select(Event)):
            event.received_at = long_ago
    assert await purge(scene.db, utcnow() - timedelta(days=30)) == (1, 1)
    left = {d.id for d in await scene.rows(Delivery)}
    assert left == {recent_done.id, old_pending.id}
    assert len(await scene.rows(Event)) == 2  # events still carried by a delivery stay
