"""Creating a webhook whose template needs more work than the budget on its event's sample payload
is refused with a 400 that names the limit (here lowered to 1,000 steps, the least allowed)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Notification

from .conftest import World
from .test_notifications_api import BASE, assert_quay_error, create

URL = "https://receiver.example.com/hook"
# 40 searches three levels into trigger_metadata: about 2,400 steps on a sample build (which has
# one), about 360 on a sample push (which has none).
BUILD_HEAVY = json.dumps(["${trigger_metadata.*.*.*}"] * 40)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"template_max_steps": 1000})


def webhook(event: str, template: Any) -> dict[str, Any]:
    return {"event": event, "method": "webhook", "config": {"url": URL, "template": template}}


async def test_create_refuses_a_template_over_the_budget(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    response = await create(client, world, webhook("build_success", BUILD_HEAVY))
    assert_quay_error(
        response,
        400,
        "webhook template is too expensive for the sample build_success event",
        "more than 1,000 steps",
        "REGNOTIFY_TEMPLATE_MAX_STEPS",
    )
    parsed = await create(client, world, webhook("build_failure", json.loads(BUILD_HEAVY)))
    assert_quay_error(parsed, 400, "more than 1,000 steps", "REGNOTIFY_TEMPLATE_MAX_STEPS")
    async with database.read() as session:
        assert (await session.scalars(select(Notification))).all() == []


async def test_the_sample_is_the_notifications_own_event(client: httpx.AsyncClient, world: World) -> None:
    response = await create(client, world, webhook("repo_push", BUILD_HEAVY))
    assert response.status_code == 201, response.text
    assert response.json()["config"]["template"] == BUILD_HEAVY


async def test_real_templates_are_accepted(client: httpx.AsyncClient, world: World) -> None:
    template = {"text": "Build ${build_id} of ${repository}: ${docker_tags[*]}", "event": "${$}"}
    response = await create(client, world, webhook("build_success", template))
    assert response.status_code == 201, response.text
    listed = await client.get(BASE, headers=world.headers("admin"))
    assert [n["event"] for n in listed.json()["notifications"]] == ["build_success"]
