"""A webhook's ``format`` over Quay's notification routes: stored, shown as it is, refused with a 400
that names the valid values."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regnotify.db import Database
from regnotify.db.models import Notification

from .conftest import World
from .test_notifications_api import BASE, assert_quay_error, create

URL = "https://receiver.example.com/hook?token=abc123"


def webhook(config: dict[str, Any]) -> dict[str, Any]:
    return {"event": "repo_push", "method": "webhook", "config": config, "eventConfig": {}}


@pytest.mark.parametrize("fmt", ["quay", "cloudevents", "cloudevents-binary"])
async def test_a_format_is_stored_and_shown(
    fmt: str, client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await create(client, world, webhook({"url": URL, "format": fmt, "secret": True}))
    assert response.status_code == 201, response.text
    shown = response.json()["config"]
    assert shown["format"] == fmt
    assert "abc123" not in response.text and shown["secret"] != response.json()["signing_secret"]
    one = await client.get(BASE + response.json()["uuid"], headers=world.headers("admin"))
    assert one.json()["config"]["format"] == fmt
    listed = await client.get(BASE, headers=world.headers("admin"))
    assert [n["config"]["format"] for n in listed.json()["notifications"]] == [fmt]
    async with database.read() as session:
        stored = await session.scalar(select(Notification))
    assert stored is not None
    assert stored.config["format"] == fmt  # not a secret: stored in the clear
    assert str(stored.config["url"]).startswith("enc:")


async def test_no_format_is_the_quay_payload_and_adds_no_key(client: httpx.AsyncClient, world: World) -> None:
    response = await create(client, world, webhook({"url": URL}))
    assert response.status_code == 201, response.text
    assert "format" not in response.json()["config"]


@pytest.mark.parametrize(
    ("fmt", "fragment"),
    [
        ("cloudevents-structured", "unknown webhook format 'cloudevents-structured'"),
        ("CE", "unknown webhook format 'CE'"),
        (["cloudevents"], "webhook format must be a string, not array"),
        (2, "webhook format must be a string, not number"),
    ],
)
async def test_a_bad_format_is_a_400_naming_the_valid_values(
    fmt: object, fragment: str, client: httpx.AsyncClient, world: World
) -> None:
    response = await create(client, world, webhook({"url": URL, "format": fmt}))
    body = assert_quay_error(response, 400, fragment, "use one of: quay, cloudevents, cloudevents-binary")
    assert "abc123" not in body["detail"]
    assert (await client.get(BASE, headers=world.headers("admin"))).json() == {"notifications": []}


async def test_format_is_only_a_webhook_key(client: httpx.AsyncClient, world: World) -> None:
    body = {
        "event": "repo_push",
        "method": "slack",
        "config": {"url": "https://hooks.slack.com/services/T0/B0/x", "format": "cloudevents"},
        "eventConfig": {},
    }
    assert_quay_error(await create(client, world, body), 400, "unknown config key(s) for slack: 'format'")
