"""Prometheus metrics: what came in, what went out, and how the queue stands.

Counters and the latency histogram live in the process that does the work: an API process counts
the events it records, a worker the attempts it makes (``serve`` does both). The queue gauges
(pending deliveries, the oldest one's age, disabled notifications) are read from the database when
``/metrics`` is scraped, so any API process reports them for the whole installation. A separate
``regnotify worker`` serves its own counters on ``REGNOTIFY_WORKER_METRICS_PORT``.

Labels never carry repository, user or notification names: only event kinds, source types and
method names, which are few and fixed, so a scrape says nothing a repository's admins would not
want an operator to see.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import REGISTRY, Counter, Gauge, Histogram, generate_latest, start_http_server
from sqlalchemy import event as orm_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_RECORDED_KEY = "regnotify.runtime.metrics.recorded"

events_total = Counter(
    "regnotify_events",
    "Events recorded (committed), by event kind and the type of their source.",
    ["kind", "source"],
)
deliveries_queued_total = Counter(
    "regnotify_deliveries_queued", "Deliveries queued with recorded events, by event kind.", ["kind"]
)
delivery_outcomes_total = Counter(
    "regnotify_delivery_outcomes",
    "Delivery attempts by method and what came of them: succeeded, retry (failed, will be tried "
    "again), failed (failed, given up), lease_lost (another worker had taken the delivery over).",
    ["method", "outcome"],
)
attempt_seconds = Histogram(
    "regnotify_delivery_attempt_seconds",
    "Time of one delivery attempt (the request, or the SMTP conversation), by method.",
    ["method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
group_commit_batch = Histogram(
    "regnotify_group_commit_batch_size",
    "Requests whose writes shared one committed transaction (the registry receiver's group commit).",
    buckets=(1, 2, 4, 8, 16, 32, 64),
)
event_loop_lag = Histogram(
    "regnotify_event_loop_lag_seconds",
    "How late the event loop ran a timer (sampled every 25 ms): time it spent busy on other work.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
pending_deliveries = Gauge(
    "regnotify_deliveries_pending", "Deliveries waiting to be sent, held ones included (database)."
)
oldest_pending_age = Gauge(
    "regnotify_oldest_pending_delivery_age_seconds",
    "Age of the oldest pending delivery, 0 when none is pending (database).",
)
disabled_notifications = Gauge(
    "regnotify_notifications_disabled", "Notifications disabled after failures (database)."
)


def source_type(source: str) -> str:
    """The kind of source, without its name: ``user:alice`` → ``user``, ``expiry-scan`` as it is."""
    return source.split(":", 1)[0][:32] or "unknown"


def count_recorded_event(session: AsyncSession, kind: str, source: str, deliveries: int) -> None:
    """Count an event once the session's transaction commits (a rolled-back event never counts)."""
    session.sync_session.info.setdefault(_RECORDED_KEY, []).append((kind, source_type(source), deliveries))


@orm_event.listens_for(Session, "after_commit")
def _count_on_commit(session: Session) -> None:
    for kind, source, deliveries in session.info.pop(_RECORDED_KEY, []):
        events_total.labels(kind, source).inc()
        if deliveries:
            deliveries_queued_total.labels(kind).inc(deliveries)


@orm_event.listens_for(Session, "after_rollback")
def _forget_on_rollback(session: Session) -> None:
    session.info.pop(_RECORDED_KEY, None)


def count_attempts(attempts: Iterable[tuple[str, str, float]]) -> None:
    """Count a batch of attempts, ``(method, outcome, seconds)`` each: each counter is incremented
    once per batch and each label set looked up once."""
    counts: dict[tuple[str, str], int] = {}
    durations: dict[str, list[float]] = {}
    for method, outcome, seconds in attempts:
        counts[method, outcome] = counts.get((method, outcome), 0) + 1
        durations.setdefault(method, []).append(seconds)
    for (method, outcome), count in counts.items():
        delivery_outcomes_total.labels(method, outcome).inc(count)
    for method, seconds_list in durations.items():
        histogram = attempt_seconds.labels(method)
        for seconds in seconds_list:
            histogram.observe(seconds)


deliveries_held_total = Counter(
    "regnotify_deliveries_held",
    "Deliveries handed back unsent because their destination was slow (held:slow) or quarantined "
    "(held:quarantined), by method; each comes back when its destination has room.",
    ["method", "reason"],
)
slow_lane_moves_total = Counter(
    "regnotify_slow_lane_moves",
    "Sends that had no answer within destination_slow_after and moved to the slow lane.",
)
destination_quarantines_total = Counter(
    "regnotify_destination_quarantines",
    "Times a destination was quarantined after sends without an answer (or a failed probe).",
)
slow_lane_sends = Gauge("regnotify_slow_lane_sends", "Sends in flight in this worker's slow lane.")
slow_destinations = Gauge("regnotify_destinations_slow", "Destinations this worker currently deems slow.")
quarantined_destinations = Gauge(
    "regnotify_destinations_quarantined", "Destinations this worker holds in quarantine now."
)


def count_held(method: str, reason: str) -> None:
    deliveries_held_total.labels(method, reason.removeprefix("held:")).inc()


def count_slow_lane_move() -> None:
    slow_lane_moves_total.inc()


def observe_destinations(gate: Any) -> None:
    """Publish a worker's destination gate (``delivery.destinations.DestinationGate``) as gauges."""
    slow_lane_sends.set(gate.slow_lane_in_flight)
    slow_destinations.set(gate.slow_count())
    quarantined_destinations.set(gate.quarantined_count())


def count_quarantine() -> None:
    destination_quarantines_total.inc()


def exposition() -> bytes:
    """Every metric of this process in Prometheus' text format."""
    return generate_latest(REGISTRY)


def serve_worker_metrics(port: int, host: str) -> Any:
    """Serve this process's metrics on ``host:port`` in a thread (``regnotify worker``)."""
    return start_http_server(port, addr=host)
