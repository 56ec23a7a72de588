"""Hostile bodies on every route that takes one: deep nesting, bad text, huge tag lists, wrong content types.

Each gets a 4xx in Quay's shape that says what was wrong, never a 500. The limits are listed in
docs/reliability.md.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from regnotify.api.errors import MAX_BODY_DEPTH
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.events.filters import MAX_PATTERNS
from regnotify.ingest.distribution import MAX_ENVELOPE_EVENTS

from .conftest import World
from .test_notifications_api import assert_quay_error

REPO = "/api/v1/repository/acme/app"
REGISTRY = "/api/v1/registry/events"
DIGEST = "sha256:" + "a" * 64
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MODEL_ROUTES = (  # (path, who): routes whose body FastAPI parses into a model, with a caller allowed there
    (f"{REPO}/notification/", "admin"),
    (f"{REPO}/events", "writer"),
    (f"{REPO}/builds", "writer"),
    (f"{REPO}/mirror/sync", "writer"),
    (f"{REPO}/vulnerabilities", "writer"),
    (f"{REPO}/tag/v1/expiration", "writer"),
    ("/api/v1/user/notifications/0f0f0f0f-0000-4000-8000-000000000000", "admin"),
)
RAW_ROUTES = (  # routes that read their body by hand
    (f"{REPO}/vulnerabilities/import?format=trivy", "writer"),
    (REGISTRY, "service"),
)
DEEP = 10_000


def deep_array(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def deep_object(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


async def send(
    client: httpx.AsyncClient, world: World, path: str, who: str, body: bytes, content_type: str | None
) -> httpx.Response:
    headers = world.headers(who)
    if content_type is not None:
        headers["Content-Type"] = content_type
    method = "PUT" if "/expiration" in path or "/user/notifications/" in path else "POST"
    return await client.request(method, path, content=body, headers=headers)


async def post_json(
    client: httpx.AsyncClient, world: World, path: str, who: str, text: str
) -> httpx.Response:
    return await send(client, world, path, who, text.encode(), "application/json")


@pytest.mark.parametrize(("path", "who"), MODEL_ROUTES + RAW_ROUTES)
async def test_deeply_nested_json_is_400(
    client: httpx.AsyncClient, world: World, path: str, who: str
) -> None:
    for body in (deep_array(DEEP), deep_object(DEEP), b'{"data": ' + deep_array(DEEP) + b"}"):
        response = await send(client, world, path, who, body, "application/json")
        assert_quay_error(response, 400, "nested too deeply")


@pytest.mark.parametrize(("path", "who"), RAW_ROUTES)
async def test_hand_read_bodies_nest_at_most_the_limit(
    client: httpx.AsyncClient, world: World, path: str, who: str
) -> None:
    """Within what the parser takes, but deeper than any envelope or report: refused before it is used."""
    too_deep = b'{"events": [' + deep_array(MAX_BODY_DEPTH) + b"]}"
    assert_quay_error(await send(client, world, path, who, too_deep, "application/json"), 400, "nested")
    shallow = b'{"events": [' + deep_array(MAX_BODY_DEPTH - 3) + b"]}"
    assert (await send(client, world, path, who, shallow, "application/json")).status_code != 500


@pytest.mark.parametrize(("path", "who"), MODEL_ROUTES + RAW_ROUTES)
async def test_invalid_utf8_is_400(client: httpx.AsyncClient, world: World, path: str, who: str) -> None:
    for body in (b'{"event": "\xff\xfe"}', b"\xc3\x28", b'{"kind": "\xe2\x82"}'):
        response = await send(client, world, path, who, body, "application/json")
        assert_quay_error(response, 400, "not valid UTF-8")


@pytest.mark.parametrize(("path", "who"), MODEL_ROUTES)
async def test_other_content_types_are_415(
    client: httpx.AsyncClient, world: World, path: str, who: str
) -> None:
    body = json.dumps({"event": "repo_push"}).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml", None):
        response = await send(client, world, path, who, body, content_type)
        assert_quay_error(
            response, 415, "Content-Type: application/json", content_type or "the request had none"
        )


@pytest.mark.parametrize(("path", "who"), MODEL_ROUTES)
async def test_no_body_is_400(client: httpx.AsyncClient, world: World, path: str, who: str) -> None:
    for content_type in ("application/json", "text/plain", None):
        response = await send(client, world, path, who, b"", content_type)
        assert_quay_error(response, 400, "no body")


async def test_json_media_types_are_parsed(client: httpx.AsyncClient, world: World) -> None:
    body = json.dumps({"kind": "repo_push", "data": {"updated_tags": {"v1": DIGEST}}}).encode()
    for content_type in ("application/json; charset=utf-8", "application/vnd.example+json"):
        response = await send(client, world, f"{REPO}/events", "writer", body, content_type)
        assert response.status_code == 201, response.text


NOTIFICATION = {
    "event": "repo_push",
    "method": "webhook",
    "config": {"url": "https://receiver.example.com/h"},
}
# (path, who, body with "@" standing for \ud800, what the message says). Before: the first six were
# 500s, but the second, which was stored and then failed every delivery; the last three were 400s already.
LONE_SURROGATES: list[tuple[str, str, dict[str, Any], str]] = [
    (
        f"{REPO}/notification/",
        "admin",
        {**NOTIFICATION, "config": {"url": "https://receiver.example.com/h", "template": '{"a": "@"}'}},
        "lone surrogate",
    ),
    (
        f"{REPO}/notification/",
        "admin",
        {**NOTIFICATION, "config": {"url": "https://receiver.example.com/h", "template": {"@": 1}}},
        "lone surrogate",
    ),
    (
        f"{REPO}/notification/",
        "admin",
        {**NOTIFICATION, "eventConfig": {"tag-patterns": ["v@"]}},
        "lone surrogate",
    ),
    (
        f"{REPO}/notification/",
        "admin",
        {**NOTIFICATION, "event": "build_success", "eventConfig": {"ref-regex": "^refs/@"}},
        "lone surrogate",
    ),
    (f"{REPO}/builds", "writer", {"docker_tags": ["v1"], "trigger_metadata": {"x": "@"}}, "lone surrogates"),
    (
        f"{REPO}/events",
        "writer",
        {
            "kind": "build_queued",
            "data": {
                "build_id": "b",
                "docker_tags": [],
                "is_manual": False,
                "trigger_metadata": {"x": ["@"]},
            },
        },
        "lone surrogates",
    ),
    (f"{REPO}/notification/", "admin", {**NOTIFICATION, "eventConfig": {"@": 1}}, "\\ud800"),
    (f"{REPO}/notification/", "admin", {**NOTIFICATION, "config": {"url": "https://h/", "@": 1}}, "\\ud800"),
    (
        f"{REPO}/events",
        "writer",
        {"kind": "repo_push", "data": {"updated_tags": {"v1": DIGEST}, "@": 1}},
        "\\ud800",
    ),
]


@pytest.mark.parametrize(("path", "who", "body", "message"), LONE_SURROGATES)
async def test_lone_surrogates_are_400(
    client: httpx.AsyncClient, world: World, path: str, who: str, body: dict[str, Any], message: str
) -> None:
    """JSON's \\ud800 escapes decode to text UTF-8 cannot hold: refused, and echoed back escaped."""
    response = await post_json(client, world, path, who, json.dumps(body).replace("@", "\\ud800"))
    assert_quay_error(response, 400, message)


async def test_lone_surrogates_in_registry_events_are_rejected_not_stored(
    client: httpx.AsyncClient, world: World
) -> None:
    target = {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "acme/app"}
    envelope = {
        "events": [
            {"id": "e-@", "action": "push", "target": {**target, "tag": "v1", "digest": DIGEST}},
            {
                "id": "e-2",
                "action": "push",
                "target": {**target, "tag": "v2", "digest": DIGEST},
                "request": {"host": "@"},
            },
        ]
    }
    response = await post_json(
        client, world, REGISTRY, "service", json.dumps(envelope).replace("@", "\\ud800")
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "ignored": 0, "rejected": 1}
    rejections = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
    (rejection,) = rejections.json()["rejections"]
    assert "surrogate" in rejection["reason"]


async def test_a_lone_surrogate_in_the_registry_host_is_not_stored(
    settings: Settings, database: Database, world: World
) -> None:
    """Without REGISTRY_HOST, docker_url comes from the host the registry reports; a \\ud800 there was
    stored in the payload, and every later GET …/events answered 500."""
    app = create_app(settings.model_copy(update={"registry_host": None}), database=database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as client:
            target = {"mediaType": OCI_MANIFEST, "repository": "acme/app", "tag": "v1", "digest": DIGEST}
            envelope = {"events": [{"action": "push", "target": target, "request": {"host": "@:5000"}}]}
            text = json.dumps(envelope).replace("@", "\\ud800")
            response = await post_json(client, world, REGISTRY, "service", text)
            assert response.json()["accepted"] == 1, response.text
            listed = await client.get(f"{REPO}/events", headers=world.headers("admin"))
            assert listed.status_code == 200, listed.text
            assert listed.json()["events"][0]["payload"]["docker_url"] == "localhost:5000/acme/app"


HUGE = 5_000  # tags: well within the 1 MiB body limit, far beyond every list's maximum


async def test_huge_tag_lists_are_400(client: httpx.AsyncClient, world: World) -> None:
    tags = [f"v{i}" for i in range(HUGE)]
    cases = [
        (
            f"{REPO}/notification/",
            "admin",
            {**NOTIFICATION, "eventConfig": {"tag-patterns": tags}},
            "at most 50",
        ),
        (
            f"{REPO}/events",
            "writer",
            {"kind": "repo_push", "data": {"updated_tags": dict.fromkeys(tags, DIGEST)}},
            "1000",
        ),
        (f"{REPO}/builds", "writer", {"docker_tags": tags}, "1000"),
        (f"{REPO}/vulnerabilities", "writer", {"tags": tags, "vulnerability": {"id": "CVE-1"}}, "1000"),
    ]
    assert MAX_PATTERNS == 50
    for path, who, body, message in cases:
        response = await post_json(client, world, path, who, json.dumps(body))
        assert_quay_error(response, 400, message)


async def test_envelopes_with_too_many_events_are_400(client: httpx.AsyncClient, world: World) -> None:
    event = {"action": "pull", "target": {"repository": "acme/app"}}
    too_many = {"events": [event] * (MAX_ENVELOPE_EVENTS + 1)}
    response = await post_json(client, world, REGISTRY, "service", json.dumps(too_many))
    assert_quay_error(
        response, 400, f"holds {MAX_ENVELOPE_EVENTS + 1} events", f"at most {MAX_ENVELOPE_EVENTS}"
    )
    just_enough = {"events": [event] * MAX_ENVELOPE_EVENTS}
    response = await post_json(client, world, REGISTRY, "service", json.dumps(just_enough))
    assert response.json() == {"accepted": 0, "duplicates": 0, "ignored": MAX_ENVELOPE_EVENTS, "rejected": 0}


QUERY_INTEGERS = (  # (path, parameter, who): every integer query parameter
    (f"{REPO}/events", "limit", "admin"),
    (f"{REPO}/builds", "limit", "admin"),
    (f"{REPO}/notification/logs", "limit", "admin"),
    (f"{REPO}/notification/logs", "next_page", "admin"),  # once a 500: SQLite cannot compare past 2**63
    (f"{REPO}/notification/0f0f0f0f-0000-4000-8000-000000000000/deliveries", "page", "admin"),
    (f"{REPO}/notification/0f0f0f0f-0000-4000-8000-000000000000/deliveries", "limit", "admin"),
    ("/api/v1/user/notifications", "page", "admin"),
    ("/api/v1/user/notifications", "limit", "admin"),
    ("/api/v1/registry/rejections", "limit", "superuser"),
)


@pytest.mark.parametrize(("path", "parameter", "who"), QUERY_INTEGERS)
async def test_out_of_range_integers_in_queries_are_400(
    client: httpx.AsyncClient, world: World, path: str, parameter: str, who: str
) -> None:
    for value in ("9223372036854775808", "-9223372036854775809", "1" + "0" * 400, "0", "-1", "1e3", "0x10"):
        if (path, parameter, value) == ("/api/v1/user/notifications", "page", "0"):
            continue  # Quay's inbox paging: page 0 is the first page (test_quay_differences.py)
        response = await client.get(path, params={parameter: value}, headers=world.headers(who))
        assert_quay_error(response, 400, parameter)
