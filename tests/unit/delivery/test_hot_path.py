"""The hot path's pure parts: decoding claimed rows once per event and notification, SQLite's time
format."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import DateTime
from sqlalchemy.dialects import sqlite

from regnotify.delivery.hot_path import ClaimReader, sqlite_time

PAYLOAD = {"repository": "acme/app", "updated_tags": ["latest"]}
CONFIG = {"url": "sealed:abc"}


def row(delivery_id: int, event_id: int, notification_id: int, config: str = json.dumps(CONFIG)) -> tuple:
    return (
        delivery_id,
        f"uuid-{delivery_id}",
        0,
        0,
        event_id,
        "repo_push",
        json.dumps(PAYLOAD),
        "2026-12-06 10:00:00.000001",
        notification_id,
        f"n-{notification_id}",
        None,
        "repo_push",
        "webhook",
        config,
        7,
        "acme",
        "app",
    )


def test_an_event_and_a_notification_are_decoded_once_per_reader() -> None:
    reader = ClaimReader()
    claimed = reader.claimed("token", [row(1, 10, 100), row(2, 10, 101), row(3, 10, 100)], sqlite=True)

    assert [c.delivery_id for c in claimed] == [1, 2, 3]
    assert all(c.lease_token == "token" and c.is_test is False for c in claimed)
    assert claimed[0].event.payload == PAYLOAD
    assert claimed[0].event.payload is claimed[1].event.payload is claimed[2].event.payload
    assert claimed[0].notification.config is claimed[2].notification.config
    assert claimed[0].event.received_at == datetime(2026, 12, 6, 10, 0, 0, 1, tzinfo=UTC)
    assert claimed[0].repository.full_name == "acme/app"


def test_an_edited_config_is_decoded_again() -> None:
    reader = ClaimReader()
    (before,) = reader.claimed("t", [row(1, 10, 100)], sqlite=True)
    (after,) = reader.claimed("t", [row(2, 11, 100, json.dumps({"url": "sealed:new"}))], sqlite=True)

    assert before.notification.config == CONFIG
    assert after.notification.config == {"url": "sealed:new"}


def test_postgresql_times_come_back_in_utc() -> None:
    reader = ClaimReader()
    moscow = datetime(2026, 12, 6, 13, 0, tzinfo=timezone(timedelta(hours=3)))
    values = list(row(1, 10, 100))
    values[7] = moscow
    (claimed,) = reader.claimed("t", [tuple(values)], sqlite=False)

    assert claimed.event.received_at == moscow
    assert claimed.event.received_at is not None and claimed.event.received_at.tzinfo is UTC


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 6, 10, 0, tzinfo=UTC),
        datetime(2026, 12, 6, 10, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 12, 6, 13, 0, 0, 5, tzinfo=timezone(timedelta(hours=3))),
    ],
)
def test_sqlite_times_are_written_as_sqlalchemy_writes_them(value: datetime) -> None:
    """The claim compares its ``now`` with stored values as text, so the formats must match."""
    process = DateTime().dialect_impl(sqlite.dialect()).bind_processor(sqlite.dialect())
    assert process is not None
    assert sqlite_time(value) == process(value.astimezone(UTC).replace(tzinfo=None))


def test_a_reused_event_id_is_decoded_again() -> None:
    """SQLite may give a deleted row's id to a new one: the text, not the id alone, keys the cache."""
    reader = ClaimReader()
    (first,) = reader.claimed("t", [row(1, 10, 100)], sqlite=True)
    other = list(row(2, 10, 100))
    other[6] = json.dumps({"repository": "acme/other"})
    (second,) = reader.claimed("t", [tuple(other)], sqlite=True)

    assert first.event.payload == PAYLOAD
    assert second.event.payload == {"repository": "acme/other"}
