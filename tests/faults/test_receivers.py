"""Receivers that fail in the ways real ones do, side by side with healthy ones, served by one worker process.

- a receiver that is down (nothing listens on its port), then comes up;
- one slower than ``http_total_timeout``; one that accepts the connection and never answers;
- an SMTP server that refuses (451) each message once, then accepts it; and one address it rejects (550).

The healthy receivers' deliveries must not wait for the faulty ones, and every delivery must end
as the retry policy says: ``succeeded`` once its receiver works, ``failed`` after the whole schedule
on a timeout, ``failed`` at once on a 5xx from the SMTP server, with the matching ``last_error``.
"""

from __future__ import annotations

import asyncio
import email
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, cast

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import AuthorizedEmail, Delivery, DeliveryAttempt
from regnotify.runtime.crypto import secret_box

from .conftest import Record
from .parts import BlackHole, Receiver, Scene, WorkerProcesses, free_port

pytestmark = pytest.mark.faults

EVENTS = 4  # each event: one delivery per notification
HEALTHY = 5  # healthy webhook notifications
TOTAL_TIMEOUT = 2  # http_total_timeout, seconds
SCHEDULE = [1.0, 1.0]  # retry schedule: three tries in all
FLAKY, REJECTED = "flaky@example.com", "rejected@example.com"
GREYLISTED = "451 4.7.1 Greylisted, try again later"
NO_SUCH_USER = "550 5.1.1 No such user"


@dataclass
class Mailbox:
    """aiosmtpd handler: rejects one address for good; greylists each delivery's first message (451)."""

    greylisted: set[str] = field(default_factory=set)  # X-Regnotify-Delivery of refused messages
    messages: list[EmailMessage] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address == REJECTED:
            return NO_SUCH_USER
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        content = cast(bytes, envelope.original_content)
        message = cast(EmailMessage, email.message_from_bytes(content, policy=policy.default))
        delivery = str(message["X-Regnotify-Delivery"])
        if delivery not in self.greylisted:
            self.greylisted.add(delivery)
            return GREYLISTED
        self.messages.append(message)
        return "250 Message accepted"


def ended(attempt: DeliveryAttempt) -> datetime:
    return attempt.started_at + timedelta(milliseconds=attempt.duration_ms)


async def test_faulty_receivers_hold_up_nobody_and_end_as_the_policy_says(
    database: Database, settings: Settings, tmp_path: Path, figures: Record
) -> None:
    scene = await Scene.create(database, settings, secret_box(settings))
    async with database.write() as session:
        for address in (FLAKY, REJECTED):
            session.add(
                AuthorizedEmail(
                    repository_id=scene.repository.id, email=address, confirmed=True, send_count=0
                )
            )
    healthy = await Receiver().start()
    slow = await Receiver(delay=TOTAL_TIMEOUT + 3).start()
    hole = await BlackHole().start()
    down = Receiver(port=free_port())  # started once its first attempts have failed
    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port, ready_timeout=5)
    smtp.start()
    workers = WorkerProcesses(
        database.url,
        str(settings.secret_key),
        tmp_path,
        lease_seconds="10",
        retry_schedule=str(SCHEDULE),
        failure_threshold="100",
        destination_failure_threshold="100",  # no quarantine: each delivery runs its whole schedule
        poll_interval="0.1",
        worker_concurrency="16",
        per_host_concurrency=str(EVENTS),  # each receiver gets all its tries: none waits for a slot
        http_connect_timeout="1",
        http_total_timeout=str(TOTAL_TIMEOUT),
        smtp_host="127.0.0.1",
        smtp_port=str(smtp_port),
        smtp_security="plain",
        mail_from="regnotify <notify@regnotify.test>",
    )
    try:
        groups = {  # notification id -> group
            (await scene.notification("webhook", {"url": down.url}, "down")).id: "down",
            (await scene.notification("webhook", {"url": slow.url}, "slow")).id: "slow",
            (await scene.notification("webhook", {"url": hole.url}, "hole")).id: "hole",
        }
        for index in range(HEALTHY):
            notification = await scene.notification("webhook", {"url": healthy.url}, f"healthy {index}")
            groups[notification.id] = "healthy"
        groups[(await scene.notification("email", {"email": FLAKY}, "flaky mail")).id] = "flaky"
        groups[(await scene.notification("email", {"email": REJECTED}, "rejected mail")).id] = "rejected"
        await scene.push([f"v{index}" for index in range(EVENTS)])

        started = time.monotonic()
        workers.start("worker")
        deadline = time.monotonic() + 60
        while (await _groups_failed_once(scene, groups)).get("down") != EVENTS:  # then bring it up
            assert time.monotonic() < deadline, workers.log("worker")[-3000:]
            await asyncio.sleep(0.05)
        await down.start()
        expected = {"succeeded": EVENTS * (HEALTHY + 2), "failed": EVENTS * 3}
        final = await scene.wait_for_states(expected, seconds=60)
        elapsed = time.monotonic() - started
        assert final == expected, workers.log("worker")[-3000:]
        deliveries = await scene.deliveries()
        attempts = await scene.attempts()
    finally:
        workers.stop_all()
        smtp.stop()
        for server in (healthy, slow, hole, down):
            await server.close()

    by_group: dict[str, list[Delivery]] = {}
    for delivery in deliveries:
        by_group.setdefault(groups[delivery.notification_id], []).append(delivery)
    assert {group: len(rows) for group, rows in by_group.items()} == {
        "down": EVENTS,
        "slow": EVENTS,
        "hole": EVENTS,
        "healthy": EVENTS * HEALTHY,
        "flaky": EVENTS,
        "rejected": EVENTS,
    }
    tries = len(SCHEDULE) + 1

    # healthy: once each, all recorded before the first timed-out attempt of a hanging receiver ended
    assert healthy.counts() == {d.uuid: 1 for d in by_group["healthy"]}
    for delivery in by_group["healthy"]:
        assert (delivery.state, delivery.attempts, delivery.last_status_code) == ("succeeded", 1, 204)
    first_timeout = min(ended(attempts[d.id][0]) for d in by_group["slow"] + by_group["hole"])
    last_healthy = max(cast(datetime, d.finished_at) for d in by_group["healthy"])
    assert last_healthy < first_timeout

    # down, then up: refused until it listened, then one success
    for delivery in by_group["down"]:
        *refused, success = attempts[delivery.id]
        assert 1 <= len(refused) < tries and delivery.state == "succeeded"
        assert {a.error for a in refused} == {f"connection refused by 127.0.0.1:{down.port}"}
        assert (success.outcome, success.status_code, delivery.last_error) == ("succeeded", 204, None)
    assert down.counts() == {d.uuid: 1 for d in by_group["down"]}

    # slower than the timeout, and never answering: the whole schedule, then failed
    for group, port in (("slow", slow.port), ("hole", hole.port)):
        wording = f"timed out after {TOTAL_TIMEOUT}s waiting for 127.0.0.1:{port}"
        for delivery in by_group[group]:
            assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", tries, wording)
            assert [(a.outcome, a.error) for a in attempts[delivery.id]] == [("failed", wording)] * tries
    assert slow.counts() == {d.uuid: tries for d in by_group["slow"]}  # every try reached it
    assert hole.connections == EVENTS * tries

    # SMTP: greylisted (temporary), then accepted; a 550 fails at once
    greylisted = f"SMTP server 127.0.0.1:{smtp_port} refused the message: {GREYLISTED}"
    for delivery in by_group["flaky"]:
        assert [(a.outcome, a.error) for a in attempts[delivery.id]] == [
            ("failed", greylisted),
            ("succeeded", None),
        ]
        assert (delivery.state, delivery.attempts, delivery.last_error) == ("succeeded", 2, None)
    rejected = f"SMTP server 127.0.0.1:{smtp_port} refused the recipient: {NO_SUCH_USER}"
    for delivery in by_group["rejected"]:
        assert (delivery.state, delivery.attempts, delivery.last_error) == ("failed", 1, rejected)
    mailed = {message["X-Regnotify-Delivery"]: message for message in mailbox.messages}
    assert len(mailbox.messages) == EVENTS and set(mailed) == {d.uuid for d in by_group["flaky"]}
    assert mailbox.greylisted == set(mailed)
    for message in mailbox.messages:
        assert message["To"] == FLAKY and "acme/app" in str(message["Subject"])
        text, html = (message.get_body(preferencelist=(kind,)) for kind in ("plain", "html"))
        assert text is not None and html is not None
        assert "acme/app" in text.get_content() and "acme/app" in html.get_content()

    figures(
        {
            "engine": database.dialect,
            "deliveries": len(deliveries),
            "healthy_before_first_timeout": f"{len(by_group['healthy'])}/{len(by_group['healthy'])}",
            "down_then_up_tries": _spread(attempts, by_group["down"]),
            "slow_tries": _spread(attempts, by_group["slow"]),
            "never_answers_tries": _spread(attempts, by_group["hole"]),
            "smtp_451_then_250_tries": _spread(attempts, by_group["flaky"]),
            "smtp_550_tries": _spread(attempts, by_group["rejected"]),
            "seconds": round(elapsed, 1),
        }
    )


def _spread(attempts: dict[int, list[DeliveryAttempt]], deliveries: list[Delivery]) -> str:
    counts = sorted(len(attempts[d.id]) for d in deliveries)
    return str(counts[0]) if counts[0] == counts[-1] else f"{counts[0]}-{counts[-1]}"


async def _groups_failed_once(scene: Scene, groups: dict[int, str]) -> dict[str, int]:
    """How many deliveries of each group have at least one failed attempt recorded."""
    found: dict[str, int] = {}
    deliveries = {d.id: d for d in await scene.deliveries()}
    for delivery_id, tries in (await scene.attempts()).items():
        if any(a.outcome == "failed" for a in tries):
            group = groups[deliveries[delivery_id].notification_id]
            found[group] = found.get(group, 0) + 1
    return found
