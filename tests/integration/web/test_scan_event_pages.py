"""The scan kinds in the pages: the create form (with its level field), the table, Test, the events list."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import select

from regnotify.accounts import find_repository
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Delivery, Event, Notification
from regnotify.events import get_event_kind
from regnotify.ingest import record_event, repository_ref
from tests.integration.web.conftest import PageClient

NEW = "/repository/acme/app/notification/new"
SETTINGS = "/repository/acme/app?tab=settings"
DIGEST = "sha256:" + "9" * 64
WEBHOOK = {"method": "webhook", "webhook_url": "https://receiver.example.com/scans"}


async def create(pages: PageClient, fields: dict[str, str]) -> str:
    await pages.get(NEW)
    response = await pages.post(NEW, fields)
    assert response.status_code in (200, 303), response.text
    return re.findall(r'data-notification="([^"]+)"', (await pages.get(SETTINGS)).text)[-1]


async def test_the_form_offers_both_kinds_and_the_level_for_completed_scans(pages: PageClient) -> None:
    await pages.sign_in("admin")
    form = (await pages.get(NEW)).text
    assert '<option value="scan_completed" >Security Scan Completed</option>' in form
    assert '<option value="scan_failed" >Security Scan Failed</option>' in form
    # The level field is shown for the events that take it, scan_completed among them.
    level_events = re.search(
        r'<div data-for-events="([^"]*)">\s*<div class="field[^"]*">\s*<label for="level">', form
    )
    assert level_events, form
    assert level_events.group(1).split() == ["vulnerability_found", "scan_completed"]
    assert "Vulnerability and scan events." in form


async def test_a_completed_scan_notification_with_a_level(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    await create(pages, {**WEBHOOK, "event": "scan_completed", "level": "1", "title": "Bad scans"})
    await create(pages, {**WEBHOOK, "event": "scan_failed", "level": "1"})  # takes no level: not stored
    table = (await pages.get(SETTINGS)).text
    assert "Bad scans" in table and "Security Scan Completed" in table and "High or more severe" in table
    assert "Webhook POST on Security Scan Failed" in table
    async with database.read() as session:
        stored = {n.event: n.event_config for n in await session.scalars(select(Notification))}
    assert stored == {"scan_completed": {"level": "1"}, "scan_failed": {}}


async def test_a_bad_level_is_shown_next_to_the_field(pages: PageClient) -> None:
    await pages.sign_in("admin")
    await pages.get(NEW)
    response = await pages.post(NEW, {**WEBHOOK, "event": "scan_completed", "level": "Severe"})
    assert response.status_code == 400
    error = re.search(r'<p class="field-error" id="level-error">([^<]*)</p>', response.text)
    assert error and "scans whose most severe finding" in html.unescape(error.group(1))


async def test_the_test_button_sends_the_scan_sample(pages: PageClient, database: Database) -> None:
    await pages.sign_in("admin")
    uuid = await create(pages, {**WEBHOOK, "event": "scan_completed", "level": "0"})
    tested = await pages.post(f"/repository/acme/app/notification/{uuid}/test")
    assert tested.status_code == 303
    assert (await pages.get(tested.headers["location"])).status_code == 200
    async with database.read() as session:
        ((delivery, event),) = (await session.execute(select(Delivery, Event).join(Event))).all()
    assert delivery.is_test and event.kind == "scan_completed"
    assert event.payload["scanner"]["name"] == "Trivy" and event.payload["highest_severity"] == "Critical"


async def test_the_events_list_shows_scans_with_their_tags(pages: PageClient, database: Database) -> None:
    events: list[tuple[str, dict[str, Any]]] = [
        ("scan_completed", {"tags": ["v2"], "counts": {"high": 2}, "total": 2, "highest_severity": "High"}),
        ("scan_completed", {"digest": DIGEST, "counts": {}, "total": 0, "highest_severity": "None"}),
        ("scan_failed", {"tags": ["v2"], "status": "stopped"}),
    ]
    async with database.write() as session:
        repo = await find_repository(session, "acme/app")
        assert repo is not None
        ref = repository_ref(repo, Settings(registry_host="registry.test:5000"))
        for name, data in events:
            kind = get_event_kind(name)
            await record_event(session, repo, kind, kind.build_payload(ref, data), source="test")
    await pages.sign_in("reader")
    page = html.unescape((await pages.get("/repository/acme/app")).text)
    assert "Security Scan Completed" in page and "Security Scan Failed" in page
    assert "Scan of acme/app:v2 found 2 vulnerabilities, the most severe High" in page
    assert "Scan of acme/app@sha256:999999999999 found no vulnerabilities" in page
    assert "Scan of acme/app:v2 was stopped" in page
    only_v2 = html.unescape((await pages.get("/repository/acme/app?tag=v2")).text)
    assert "the most severe High" in only_v2 and "was stopped" in only_v2
    assert "no vulnerabilities" not in only_v2
