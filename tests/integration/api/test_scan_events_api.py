"""scan_completed and scan_failed through the API: posted events, the level filter, refusals, Test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regnotify.db import Database
from regnotify.db.models import Delivery, Event, Notification

from .conftest import World
from .test_notifications_api import assert_quay_error

EVENTS = "/api/v1/repository/acme/app/events"
NOTIFICATIONS = "/api/v1/repository/acme/app/notification/"
DIGEST = "sha256:" + "7" * 64
ENVELOPE = {
    "repository": "acme/app",
    "namespace": "acme",
    "name": "app",
    "docker_url": "registry.test:5000/acme/app",
    "homepage": "https://regnotify.test/repository/acme/app",
}


def scan(highest: str, total: int, **extra: Any) -> dict[str, Any]:
    counts = {highest.lower(): total} if highest != "None" else {}
    return {
        "kind": "scan_completed",
        "data": {"counts": counts, "total": total, "highest_severity": highest, **extra},
    }


async def subscribe(
    client: httpx.AsyncClient, world: World, event: str, event_config: dict[str, Any]
) -> httpx.Response:
    body = {
        "event": event,
        "method": "email",
        "config": {"email": "ops@example.com"},
        "eventConfig": event_config,
    }
    return await client.post(NOTIFICATIONS, json=body, headers=world.headers("admin"))


async def subscribed(
    client: httpx.AsyncClient, world: World, event: str, event_config: dict[str, Any]
) -> str:
    response = await subscribe(client, world, event, event_config)
    assert response.status_code == 201, response.text
    assert response.json()["event_config"] == event_config
    return str(response.json()["uuid"])


async def matched(client: httpx.AsyncClient, world: World, body: dict[str, Any]) -> set[str]:
    response = await client.post(EVENTS, json=body, headers=world.headers("service"))
    assert response.status_code == 201, response.text
    return {delivery["notification_uuid"] for delivery in response.json()["deliveries"]}


async def test_a_posted_scan_is_stored_in_the_contracts_shape(
    client: httpx.AsyncClient, world: World
) -> None:
    body = scan("High", 3, digest=DIGEST, scanner={"name": "Trivy", "version": "v0.56.1"}, tags=["v1"])
    response = await client.post(
        EVENTS, json={**body, "id": "harbor-scan-1"}, headers=world.headers("writer")
    )
    assert response.status_code == 201, response.text
    assert response.json()["payload"] == {
        **ENVELOPE,
        "tags": ["v1"],
        "digest": DIGEST,
        "scanner": {"name": "Trivy", "vendor": None, "version": "v0.56.1"},
        "counts": {"critical": 0, "high": 3, "medium": 0, "low": 0, "negligible": 0, "unknown": 0},
        "total": 3,
        "fixable": None,
        "highest_severity": "High",
    }
    listed = (await client.get(EVENTS, headers=world.headers("reader"))).json()["events"]
    assert [(event["kind"], event["payload"]["highest_severity"]) for event in listed] == [
        ("scan_completed", "High")
    ]


async def test_the_level_filter_picks_the_scans(client: httpx.AsyncClient, world: World) -> None:
    every_scan = await subscribed(client, world, "scan_completed", {})
    high_up = await subscribed(client, world, "scan_completed", {"level": "High"})
    critical = await subscribed(client, world, "scan_completed", {"level": 0})
    unknown_up = await subscribed(client, world, "scan_completed", {"level": "5"})
    await subscribed(client, world, "scan_failed", {})  # another kind: never matched by a completed scan

    assert await matched(client, world, scan("Critical", 1)) == {every_scan, high_up, critical, unknown_up}
    assert await matched(client, world, scan("high", 2)) == {every_scan, high_up, unknown_up}
    assert await matched(client, world, scan("Low", 4)) == {every_scan, unknown_up}
    assert await matched(client, world, scan("Unknown", 1)) == {every_scan, unknown_up}
    assert await matched(client, world, scan("None", 0)) == {every_scan}  # a clean scan passes no level


async def test_a_failed_or_stopped_scan_reaches_its_notifications(
    client: httpx.AsyncClient, world: World
) -> None:
    failures = await subscribed(client, world, "scan_failed", {})
    await subscribed(client, world, "scan_completed", {})
    for status in ("failed", "stopped"):
        body = {"kind": "scan_failed", "data": {"status": status, "digest": DIGEST}}
        assert await matched(client, world, body) == {failures}
    response = await subscribe(client, world, "scan_failed", {"level": "High"})
    assert_quay_error(response, 400, "unknown eventConfig key 'level' for event scan_failed")


@pytest.mark.parametrize(
    ("level", "fragment"),
    [("Severe", "level must be a vulnerability priority"), ("None", "scans whose most severe finding")],
)
async def test_a_bad_level_is_refused(
    client: httpx.AsyncClient, world: World, level: str, fragment: str
) -> None:
    assert_quay_error(await subscribe(client, world, "scan_completed", {"level": level}), 400, fragment)


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (scan("Severe", 1), "highest_severity: Input should be 'Critical'"),
        (scan("High", 1, digest="latest"), "digest: invalid digest"),
        (scan("High", 1, tags=[DIGEST]), "tags[0]: invalid tag name"),
        (scan("High", -1), "total: Input should be greater than or equal to 0"),
        ({"kind": "scan_completed", "data": {"counts": {}, "total": 0}}, "highest_severity: Field required"),
        (
            {"kind": "scan_failed", "data": {"status": "error"}},
            "status: Input should be 'failed' or 'stopped'",
        ),
    ],
)
async def test_bad_scan_events_are_400_and_not_stored(
    client: httpx.AsyncClient, world: World, database: Database, body: dict[str, Any], fragment: str
) -> None:
    assert_quay_error(await client.post(EVENTS, json=body, headers=world.headers("writer")), 400, fragment)
    async with database.read() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 0


@pytest.mark.parametrize("event", ["scan_completed", "scan_failed"])
async def test_the_test_call_queues_the_kinds_sample(
    client: httpx.AsyncClient, world: World, database: Database, event: str
) -> None:
    config = {"level": "Critical"} if event == "scan_completed" else {}
    uuid = await subscribed(client, world, event, config)
    response = await client.post(NOTIFICATIONS + uuid + "/test", headers=world.headers("admin"))
    assert response.status_code == 200, response.text
    async with database.read() as session:
        ((delivery, stored, notification),) = (
            await session.execute(select(Delivery, Event, Notification).join(Event).join(Notification))
        ).all()
    assert delivery.is_test and stored.is_test and notification.uuid == uuid
    assert stored.kind == event
    expected = {
        **ENVELOPE,
        "tags": ["latest"],
        "digest": "sha256:f9710cfe5f7d1f3a6b9278c65c82c18775b73e74f5a578def9658278169aaf5c",
        "scanner": {"name": "Trivy", "vendor": "Aqua Security", "version": "v0.56.1"},
    }
    if event == "scan_completed":
        expected |= {
            "counts": {"critical": 1, "high": 3, "medium": 5, "low": 2, "negligible": 0, "unknown": 1},
            "total": 12,
            "fixable": 5,
            "highest_severity": "Critical",
        }
    else:
        expected |= {
            "status": "failed",
            "reason": "failed to download the vulnerability database: context deadline exceeded",
        }
    assert stored.payload == expected
