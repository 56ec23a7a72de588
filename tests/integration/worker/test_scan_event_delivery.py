"""scan_completed and scan_failed go out through every method: the real worker, a real receiver on
127.0.0.1 for the HTTP methods, the maildir for e-mail and the inbox for in-app notices."""

from __future__ import annotations

import email
import json
import mailbox
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from typing import Any, cast

import pytest
from aiohttp import web

from regnotify.db.models import AuthorizedEmail, Delivery, InboxItem
from regnotify.delivery.senders import build_senders
from regnotify.delivery.worker import Worker
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from regnotify.methods import METHODS

from .conftest import Scene
from .draining import work_off

DIGEST = "sha256:" + "3" * 64
SCANS: dict[str, dict[str, Any]] = {
    "scan_completed": {
        "tags": ["v1.4"],
        "digest": DIGEST,
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.1"},
        "counts": {"high": 2, "low": 1},
        "total": 3,
        "fixable": 1,
        "highest_severity": "High",
    },
    "scan_failed": {"digest": DIGEST, "status": "failed", "reason": "the adapter timed out"},
}
SUMMARIES = {
    "scan_completed": "Scan of acme/app:v1.4 found 3 vulnerabilities, the most severe High",
    "scan_failed": "Scan of acme/app@sha256:333333333333 failed: the adapter timed out",
}


@dataclass
class Receiver:
    """Records every POST (path and JSON body) and answers 200."""

    base_url: str = ""
    received: list[tuple[str, dict[str, str], Any]] = field(default_factory=list)

    def bodies(self, path_start: str) -> list[Any]:
        return [body for path, _, body in self.received if path.startswith(path_start)]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver()

    async def handle(request: web.Request) -> web.Response:
        state.received.append((request.path, dict(request.headers), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{path:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    state.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield state
    await runner.cleanup()


@pytest.fixture
async def worker(scene: Scene, receiver: Receiver) -> AsyncIterator[Worker]:
    scene.settings = scene.settings.model_copy(
        update={"hipchat_base_url": receiver.base_url, "flowdock_base_url": receiver.base_url}
    )
    senders = build_senders(scene.settings, scene.db)
    worker = Worker(scene.db, scene.settings, senders, scene.box, name="scan-worker")
    yield worker
    await worker.finisher.close()
    await senders.close()


def configs(event: str, base_url: str) -> dict[str, dict[str, Any]]:
    """One config per method, each HTTP one at its own path of the receiver."""
    template = json.dumps({"event": event, "image": "${repository}@${digest}", "scanner": "${scanner.name}"})
    return {
        "webhook": {"url": f"{base_url}/webhook/{event}", "template": template},
        "slack": {"url": f"{base_url}/slack/{event}"},
        "msteams": {"url": f"{base_url}/teams/{event}"},
        "discord": {"url": f"{base_url}/discord/{event}"},
        "hipchat": {"room_id": f"room-{event}", "notification_token": "hipchat-token"},
        "flowdock": {"flow_api_token": f"flow-{event}"},
        "email": {"email": "ops@example.com"},
        "quay_notification": {"target": {"kind": "user", "name": "reader"}},
    }


async def test_both_scan_kinds_reach_every_method(scene: Scene, worker: Worker, receiver: Receiver) -> None:
    assert set(configs("x", "")) == set(METHODS)  # a new method must be added here too
    async with scene.db.write() as s:
        s.add(
            AuthorizedEmail(
                repository_id=scene.repository.id, email="ops@example.com", confirmed=True, send_count=0
            )
        )
    for event in SCANS:
        for method, config in configs(event, receiver.base_url).items():
            await scene.notification(method, config, event=event)
    payloads = {}
    for event, data in SCANS.items():
        kind = get_event_kind(event)
        payloads[event] = kind.build_payload(repository_ref(scene.repository, scene.settings), data)
        async with scene.db.write() as s:
            await record_event(s, scene.repository, kind, payloads[event], source="harbor")
    await work_off(worker)

    deliveries = await scene.rows(Delivery)
    assert len(deliveries) == 2 * len(METHODS)
    assert {(d.state, d.last_error) for d in deliveries} == {("succeeded", None)}
    for event, summary in SUMMARIES.items():
        (hook,) = receiver.bodies(f"/webhook/{event}")
        assert hook == {
            "event": event,
            "image": f"acme/app@{DIGEST}",
            "scanner": "Trivy" if event == "scan_completed" else None,
        }
        (slack,) = receiver.bodies(f"/slack/{event}")
        assert slack["text"] == summary
        (teams,) = receiver.bodies(f"/teams/{event}")
        assert summary in json.dumps(teams)
        (discord,) = receiver.bodies(f"/discord/{event}")
        assert discord["embeds"][0]["title"] == summary
        (hipchat,) = receiver.bodies(f"/v2/room/room-{event}/notification")
        assert hipchat["message"] == get_event_kind(event).html_message(payloads[event])
        (flowdock,) = receiver.bodies(f"/v1/messages/team_inbox/flow-{event}")
        assert (flowdock["subject"], flowdock["tags"]) == (summary, [f"#{event}"])

    completed_slack = receiver.bodies("/slack/scan_completed")[0]["attachments"][0]
    assert completed_slack["color"] == "warning"  # High: a warning
    assert "High: 2, Low: 1" in completed_slack["text"]
    assert receiver.bodies("/slack/scan_failed")[0]["attachments"][0]["color"] == "danger"

    maildir = mailbox.Maildir(scene.settings.data_dir / "maildir", create=False)
    mails = {
        str(mail["Subject"]): mail
        for mail in (
            cast(EmailMessage, email.message_from_bytes(message.as_bytes(), policy=policy.default))
            for message in maildir
        )
    }
    assert sorted(mails) == sorted(f"[regnotify] {summary}" for summary in SUMMARIES.values())
    for event, summary in SUMMARIES.items():
        mail = mails[f"[regnotify] {summary}"]
        text = mail.get_body(("plain",))
        html = mail.get_body(("html",))
        assert text is not None and html is not None
        assert get_event_kind(event).text_message(payloads[event]) in text.get_content()
        assert get_event_kind(event).html_message(payloads[event]) in html.get_content()

    notices = await scene.rows(InboxItem)
    assert sorted(n.kind for n in notices) == ["scan_completed", "scan_failed"]
    assert all(n.user_id == scene.reader.id for n in notices)
    by_kind = {n.kind: n.item_metadata for n in notices}
    assert by_kind["scan_completed"]["highest_severity"] == "High"
    assert by_kind["scan_failed"]["status"] == "failed"
