"""Creating a HipChat or Flowdock notification whose room or token would climb out of the base URL: 400."""

from __future__ import annotations

import httpx
import pytest

from .conftest import World
from .test_notifications_api import BASE, assert_quay_error


@pytest.mark.parametrize("room", ["..", ".", "../admin", "a/b", "a\\b", "a?b", "a#b", "%2e%2e"])
async def test_hipchat_room_must_be_one_path_segment(
    client: httpx.AsyncClient, world: World, room: str
) -> None:
    body = {
        "event": "repo_push",
        "method": "hipchat",
        "config": {"notification_token": "tok", "room_id": room},
    }
    response = await client.post(BASE, json=body, headers=world.headers("admin"))
    assert_quay_error(response, 400, "room_id", "room number or name", '"." or ".."')
    listed = await client.get(BASE, headers=world.headers("admin"))
    assert listed.json()["notifications"] == []


@pytest.mark.parametrize("token", ["..", ".", "../x", "a/b", "a%2Fb"])
async def test_flowdock_token_must_be_one_path_segment(
    client: httpx.AsyncClient, world: World, token: str
) -> None:
    body = {"event": "repo_push", "method": "flowdock", "config": {"flow_api_token": token}}
    response = await client.post(BASE, json=body, headers=world.headers("admin"))
    assert_quay_error(response, 400, "flow_api_token", '"." or ".."')


async def test_ordinary_room_and_token_are_accepted(client: httpx.AsyncClient, world: World) -> None:
    for config, method in (
        ({"notification_token": "tok", "room_id": "Ops Room"}, "hipchat"),
        ({"flow_api_token": "0123456789abcdef"}, "flowdock"),
    ):
        body = {"event": "repo_push", "method": method, "config": config}
        response = await client.post(BASE, json=body, headers=world.headers("admin"))
        assert response.status_code == 201, response.text
