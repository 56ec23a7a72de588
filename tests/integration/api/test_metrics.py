"""``/metrics``: counters of recorded events, the queue gauges read from the database, the token."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Notification

from .conftest import World
from .test_events_api import DIGEST, post, subscribe


async def scrape(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> dict[str, float]:
    response = await client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        f"{sample.name}{sorted(sample.labels.items())}": sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


EVENTS = "regnotify_events_total[('kind', 'repo_push'), ('source', 'user')]"
QUEUED = "regnotify_deliveries_queued_total[('kind', 'repo_push')]"


async def test_recorded_events_and_the_queue_are_counted(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    before = await scrape(client)
    await subscribe(client, world, "repo_push", {})
    await subscribe(client, world, "repo_push", {})
    for tag in ("v1", "v2", "v3"):
        response = await post(client, world, {"kind": "repo_push", "data": {"updated_tags": {tag: DIGEST}}})
        assert response.status_code == 201, response.text
    async with database.write() as session:
        await session.execute(update(Notification).where(Notification.id == 1).values(enabled=False))

    after = await scrape(client)
    assert after[EVENTS] - before.get(EVENTS, 0) == 3
    assert after[QUEUED] - before.get(QUEUED, 0) == 6
    assert after["regnotify_deliveries_pending[]"] == 6
    assert after["regnotify_oldest_pending_delivery_age_seconds[]"] >= 0
    assert after["regnotify_notifications_disabled[]"] == 1
    assert not any("acme" in name or "writer" in name for name in after)  # no names in labels


async def test_a_rejected_event_is_not_counted(client: httpx.AsyncClient, world: World) -> None:
    before = await scrape(client)
    response = await post(client, world, {"kind": "repo_push", "data": {"updated_tags": "not a map"}})
    assert response.status_code == 400
    assert (await scrape(client)).get(EVENTS, 0) == before.get(EVENTS, 0)


async def test_the_metrics_token_is_required_when_set(
    client: httpx.AsyncClient, settings: Settings, world: World
) -> None:
    settings.metrics_token = "scrape-me-please"
    try:
        refused = await client.get("/metrics")
        assert refused.status_code == 401
        assert refused.json()["error_type"] == "invalid_token"
        assert "REGNOTIFY_METRICS_TOKEN" in refused.json()["detail"]
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        user_token = await client.get("/metrics", headers=world.headers("superuser"))
        assert user_token.status_code == 401
        await scrape(client, {"Authorization": "Bearer scrape-me-please"})
    finally:
        settings.metrics_token = None
