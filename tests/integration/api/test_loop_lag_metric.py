"""``/metrics`` lists the event loop's lag, measured while the application runs."""

from __future__ import annotations

import asyncio

import httpx
from prometheus_client.parser import text_string_to_metric_families


async def test_metrics_list_the_event_loop_lag_histogram(client: httpx.AsyncClient) -> None:
    await asyncio.sleep(0.1)  # the lifespan's monitor samples every 25 ms
    response = await client.get("/metrics")
    assert response.status_code == 200
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    lag = families["regnotify_event_loop_lag_seconds"]
    assert lag.type == "histogram"
    samples = {(s.name, s.labels.get("le")): s.value for s in lag.samples}
    assert samples[("regnotify_event_loop_lag_seconds_count", None)] >= 1
    assert ("regnotify_event_loop_lag_seconds_bucket", "0.001") in samples
    assert ("regnotify_event_loop_lag_seconds_bucket", "5.0") in samples
