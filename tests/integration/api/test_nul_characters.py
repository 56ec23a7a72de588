"""NUL characters (``\\u0000``, ``%00``): PostgreSQL cannot store them in text, SQLite can.

So the same answer on both engines: a 400 in Quay's shape naming the field for API input (bodies the
routes' models take, query and path parameters), and for a registry envelope a 200 with that one
event rejected and the others stored. A database data error that gets through anyway is a 400, never
a 500; on the pages it is the error page.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Build, Event, IngestRejection, Notification, Repository
from tests.integration.web.conftest import PageClient, pages, web_app, web_users  # noqa: F401

from .conftest import World
from .test_notifications_api import assert_quay_error

REPO = "/api/v1/repository/acme/app"
REGISTRY = "/api/v1/registry/events"
DIGEST = "sha256:" + "a" * 64
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
NOTIFICATION = {
    "event": "repo_push",
    "method": "webhook",
    "config": {"url": "https://receiver.example.com/h"},
}

# (method, path, who, body with "@" standing for \u0000, the field the message names). Before: each a
# 500 on PostgreSQL (psycopg.DataError: "PostgreSQL text fields cannot contain NUL (0x00) bytes")
# and stored as sent on SQLite.
BODIES: list[tuple[str, str, str, dict[str, Any], str]] = [
    ("POST", f"{REPO}/notification/", "admin", {**NOTIFICATION, "title": "a@b"}, "title:"),
    (
        "POST",
        f"{REPO}/notification/",
        "admin",
        {**NOTIFICATION, "eventConfig": {"tag-patterns": ["v1", "v@"]}},
        "eventConfig.tag-patterns.1:",
    ),
    (
        "POST",
        f"{REPO}/notification/",
        "admin",
        {**NOTIFICATION, "config": {"url": "https://receiver.example.com/h", "template": '{"a": "@"}'}},
        "config.template:",
    ),
    (
        "POST",
        f"{REPO}/events",
        "writer",
        {"kind": "repo_push", "data": {"updated_tags": {"v1": DIGEST}}, "id": "e-@"},
        "id:",
    ),
    (
        "POST",
        f"{REPO}/events",
        "writer",
        {"kind": "repo_push", "data": {"updated_tags": {"v@": DIGEST}}},
        "data.updated_tags (a key):",
    ),
    ("POST", f"{REPO}/builds", "writer", {"docker_tags": ["v1"], "build_name": "nightly@"}, "build_name:"),
    (
        "POST",
        f"{REPO}/mirror/sync",
        "writer",
        {"status": "started", "external_reference": "quay.io/acme/app", "tag_pattern": "v*@"},
        "tag_pattern:",
    ),
]


async def stored(database: Database) -> dict[str, int]:
    async with database.read() as s:
        return {
            model.__name__: int(await s.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Notification, Event, Build, IngestRejection)
        }


@pytest.mark.parametrize(("method", "path", "who", "body", "where"), BODIES)
async def test_nul_in_a_json_body_is_400_naming_the_field(
    client: httpx.AsyncClient,
    world: World,
    database: Database,
    method: str,
    path: str,
    who: str,
    body: dict[str, Any],
    where: str,
) -> None:
    before = await stored(database)
    text = json.dumps(body).replace("@", "\\u0000")
    response = await client.request(
        method, path, content=text, headers={**world.headers(who), "Content-Type": "application/json"}
    )
    error = assert_quay_error(response, 400, where, "NUL characters")
    assert error["detail"].startswith(where), error["detail"]
    assert await stored(database) == before  # nothing of it was stored


async def test_an_escaped_backslash_before_u0000_is_no_nul(client: httpx.AsyncClient, world: World) -> None:
    """``\\\\u0000`` in JSON is a backslash and the text "u0000": stored like any text."""
    body = json.dumps({**NOTIFICATION, "title": "\\u0000 is how JSON writes NUL"})
    assert "\\\\u0000" in body
    response = await client.post(
        f"{REPO}/notification/",
        content=body,
        headers={**world.headers("admin"), "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["title"] == "\\u0000 is how JSON writes NUL"


async def test_nul_in_a_utf16_body_is_found_too(client: httpx.AsyncClient, world: World) -> None:
    """JSON may come as UTF-16 (the parser detects it): its NUL escapes are found as well."""
    body = json.dumps({**NOTIFICATION, "title": "a@"}).replace("@", "\\u0000").encode("utf-16")
    response = await client.post(
        f"{REPO}/notification/",
        content=body,
        headers={**world.headers("admin"), "Content-Type": "application/json"},
    )
    assert_quay_error(response, 400, "title:", "NUL characters")


@pytest.mark.parametrize(
    ("method", "path", "who", "where"),
    [
        ("GET", f"{REPO}/notification/logs?notification=ab%00cd", "admin", "query parameter notification:"),
        ("GET", f"{REPO}/notification/logs?limit=5&x%00=1", "admin", "query parameter"),
        ("POST", f"{REPO}/vulnerabilities/import?format=trivy&tag=v%001", "writer", "query parameter tag:"),
        ("GET", "/api/v1/entities/ac%00me", "admin", "path"),
        ("GET", "/api/v1/repository/acme/app%00", "admin", "path"),
        ("GET", f"{REPO}/notification/0f0f0f0f-0000-4000-8000-00000000000%00", "admin", "path"),
        ("GET", "/api/v1/organization/ac%00me", "admin", "path"),
    ],
)
async def test_nul_in_query_and_path_parameters_is_400(
    client: httpx.AsyncClient, world: World, method: str, path: str, who: str, where: str
) -> None:
    response = await client.request(
        method, path, headers={**world.headers(who), "Content-Type": "application/json"}, content=b"{}"
    )
    assert_quay_error(response, 400, where, "NUL characters")


async def test_nul_in_a_registry_envelope_rejects_that_event_alone(
    settings: Settings, database: Database, world: World
) -> None:
    """Before, on PostgreSQL: a 500 for the whole envelope, which the registry then retried for ever,
    holding back every later event; the valid events of the envelope were lost meanwhile."""
    app = create_app(settings.model_copy(update={"registry_host": None}), database=database)
    target = {"mediaType": OCI_MANIFEST, "repository": "acme/app", "digest": DIGEST}
    envelope = {
        "events": [
            {"id": "e-1", "action": "push", "target": {**target, "tag": "v1"}},
            {"id": "e-@", "action": "push", "target": {**target, "tag": "v2"}},  # the id
            {"id": "e-@2", "action": "push", "target": {**target, "tag": "bad tag"}},  # refused anyway
            {"id": "e-3", "action": "push", "target": {**target, "tag": "v@3"}},
            {"id": "e-4", "action": "push", "target": {**target, "repository": "acme/app@", "tag": "v4"}},
            {"id": "e-5", "action": "push", "target": {**target, "tag": "v5", "digest": DIGEST + "@"}},
            {"id": "e-6", "action": "pu@sh", "target": {**target, "tag": "v6"}},  # ignored
            {
                "id": "e-7",
                "action": "push",
                "target": {**target, "tag": "v7"},
                "request": {"host": "r@:5000"},
            },
            {"id": "e-8", "action": "push", "target": {**target, "tag": "v8"}},
        ]
    }
    text = json.dumps(envelope).replace("@", "\\u0000")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as client:
            response = await client.post(
                REGISTRY,
                content=text,
                headers={**world.headers("service"), "Content-Type": "application/json"},
            )
            assert response.status_code == 200, response.text
            assert response.json() == {"accepted": 3, "duplicates": 0, "ignored": 1, "rejected": 5}
            listing = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
            rejections = listing.json()["rejections"]
            # the registry sends it again (no answer reached it, say): the same answer, nothing twice
            again = await client.post(
                REGISTRY,
                content=text,
                headers={**world.headers("service"), "Content-Type": "application/json"},
            )
            assert again.json() == {"accepted": 0, "duplicates": 3, "ignored": 1, "rejected": 5}
    reasons = sorted(rejection["reason"] for rejection in rejections)
    assert sum("NUL characters are not allowed" in reason for reason in reasons) == 3, (
        reasons
    )  # ids, repository
    assert all("\x00" not in json.dumps(rejection, ensure_ascii=False) for rejection in rejections)
    assert {rejection["event_id"] for rejection in rejections} == {None, "e-3", "e-4", "e-5"}
    async with database.read() as s:
        events = list(await s.scalars(select(Event).order_by(Event.id)))
        repositories = list(await s.scalars(select(Repository.name)))
    assert [e.external_id for e in events] == ["e-1", "e-7", "e-8"]
    assert events[1].payload["docker_url"] == "localhost:5000/acme/app"  # the host with a NUL: not used
    assert all("\x00" not in name for name in repositories)


def data_error_app(settings: Settings, database: Database) -> FastAPI:
    app = create_app(settings, database=database)

    @app.get("/api/v1/test-data-error")
    async def fails() -> None:
        raise DataError(
            "INSERT …", {}, psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes")
        )

    @app.get("/api/v1/test-data-error-jsonb")
    async def fails_in_jsonb() -> None:
        cause = "unsupported Unicode escape sequence\nDETAIL:  \\u0000 cannot be converted to text."
        raise DataError("INSERT …", {}, psycopg.errors.UntranslatableCharacter(cause))

    @app.get("/test-data-error-page")
    async def page_fails() -> None:
        raise DataError("INSERT …", {}, psycopg.DataError("value too long for type character varying(255)"))

    return app


async def test_a_database_data_error_is_400_never_500(settings: Settings, database: Database) -> None:
    """The last resort, whatever input got past the checks: the database refused a value."""
    app = data_error_app(settings, database)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as client:
            api = await client.get("/api/v1/test-data-error")
            assert_quay_error(api, 400, "NUL characters")
            assert_quay_error(await client.get("/api/v1/test-data-error-jsonb"), 400, "NUL characters")
            page = await client.get("/test-data-error-page")
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    assert "value too long" in page.text


async def test_nul_in_a_form_field_is_no_500(pages: PageClient, database: Database) -> None:  # noqa: F811
    """The create form with a NUL in the title: before, a 500 on PostgreSQL."""
    await pages.sign_in("admin")
    new = "/repository/acme/app/notification/new"
    await pages.get(new)
    fields = {
        "event": "repo_push",
        "method": "webhook",
        "webhook_url": "https://receiver.example.com/hooks/x",
        "title": "nightly\x00",
    }
    response = await pages.post(new, fields)
    async with database.read() as s:
        created = await s.scalar(select(func.count()).select_from(Notification))
    if database.dialect == "postgresql":  # the error page, nothing stored
        assert response.status_code == 400, response.text
        assert response.headers["content-type"].startswith("text/html")
        assert "NUL characters are not allowed" in response.text
        assert created == 0
    else:  # SQLite stores the title as typed (a check beside the field would make both the same)
        assert response.status_code == 303, response.text
        assert created == 1
