"""Every route against every kind of caller: who gets through, and what the others get."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import update

from regnotify.db import Database
from regnotify.db.models import Delivery

from .conftest import PRINCIPALS, SOURCES, World

REPO = "/api/v1/repository/acme/app"
ADMINS = {"admin", "org_admin", "superuser"}
WRITERS = ADMINS | {"writer"}
READERS = WRITERS | {"reader"}
USERS = READERS | {"noaccess", "other_admin"}
POSTERS = WRITERS | {"service", "acme_source"}  # a source scoped to another namespace is refused


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    allowed: frozenset[str]
    success: int
    body: dict | None = None  # type: ignore[type-arg]
    refused: int = 403  # what signed-in users outside ``allowed`` get
    signed: bool = False  # authenticated by the sender's signature, not a bearer token: 401 for every caller


ROUTES = [
    Route(
        "POST",
        f"{REPO}/notification/",
        frozenset(ADMINS),
        201,
        {"event": "repo_push", "method": "email", "config": {"email": "a@example.com"}, "eventConfig": {}},
    ),
    Route("GET", f"{REPO}/notification/", frozenset(ADMINS), 200),
    Route("GET", f"{REPO}/notification/{{uuid}}", frozenset(ADMINS), 200),
    Route("POST", f"{REPO}/notification/{{uuid}}", frozenset(ADMINS), 204),
    Route("POST", f"{REPO}/notification/{{uuid}}/test", frozenset(ADMINS), 200),
    Route("DELETE", f"{REPO}/notification/{{uuid}}", frozenset(ADMINS), 204),
    Route("GET", f"{REPO}/notification/logs", frozenset(ADMINS), 200),
    Route(
        "POST",
        f"{REPO}/events",
        frozenset(POSTERS),
        201,
        {"kind": "repo_push", "data": {"updated_tags": {"latest": "sha256:" + "a" * 64}}},
    ),
    Route("GET", f"{REPO}/events", frozenset(READERS), 200),
    Route("GET", f"{REPO}/notification/{{uuid}}/deliveries", frozenset(ADMINS), 200),
    Route("GET", f"{REPO}/notification/{{uuid}}/deliveries/{{delivery}}", frozenset(ADMINS), 200),
    Route("POST", f"{REPO}/notification/{{uuid}}/deliveries/{{delivery}}/redeliver", frozenset(ADMINS), 202),
    Route("GET", f"{REPO}/authorizedemail/ops@example.com", frozenset(ADMINS), 200),
    Route("POST", f"{REPO}/authorizedemail/ops@example.com", frozenset(ADMINS), 200),
    Route("POST", f"{REPO}/builds", frozenset(POSTERS), 201, {"docker_tags": ["latest"]}),
    Route("GET", f"{REPO}/builds", frozenset(READERS), 200),
    Route("POST", f"{REPO}/builds/{{build}}/phase", frozenset(POSTERS), 200, {"phase": "started"}),
    Route("GET", f"{REPO}/builds/{{build}}", frozenset(READERS), 200),
    Route(
        "POST",
        f"{REPO}/mirror/sync",
        frozenset(POSTERS),
        201,
        {"status": "started", "external_reference": "mirror.example.com/acme/app"},
    ),
    Route(
        "PUT",
        f"{REPO}/tag/latest/expiration",
        frozenset(POSTERS),
        200,
        {"expires_at": "2030-01-01T00:00:00Z"},
    ),
    Route(
        "POST",
        f"{REPO}/vulnerabilities",
        frozenset(POSTERS),
        201,
        {"tags": ["latest"], "vulnerability": {"id": "CVE-2024-3094", "priority": "Critical"}},
    ),
    Route(
        "POST",
        f"{REPO}/vulnerabilities/import?format=trivy&tag=latest",
        frozenset(POSTERS),
        200,
        {"SchemaVersion": 2, "Results": []},
    ),
    Route("POST", "/api/v1/registry/events", frozenset(SOURCES), 200, {"events": []}),
    Route("POST", "/api/v1/sources/github/1", frozenset(), 200, {"zen": "ping"}, signed=True),
    Route("POST", "/api/v1/sources/harbor", frozenset(SOURCES), 200, {"type": "QUOTA", "event_data": {}}),
    Route(
        "POST",
        "/api/v1/sources/cloudevents",
        frozenset(SOURCES),
        200,
        {"specversion": "1.0", "id": "1", "source": "/s", "type": "com.example.other"},
    ),
    Route("OPTIONS", "/api/v1/sources/cloudevents", frozenset(PRINCIPALS), 200),  # the handshake: no token
    # the token is in the path (a wrong one here): 401 whoever calls
    Route("POST", "/api/v1/sources/dockerhub/not-a-token", frozenset(), 200, {"push_data": {}}, signed=True),
    Route("GET", "/api/v1/registry/rejections", frozenset({"superuser"}), 200),
    Route("GET", "/api/v1/user/notifications", frozenset(USERS), 200),
    Route("GET", "/api/v1/user/notifications/no-such-notice", frozenset(USERS), 404),
    Route("PUT", "/api/v1/user/notifications/no-such-notice", frozenset(USERS), 404, {"dismissed": True}),
    Route("GET", "/api/v1/user/", frozenset(USERS), 200),
    Route("GET", "/api/v1/user/robots/builder", frozenset(USERS), 404),
    # Outsiders are told the organization does not exist; readers of its repositories see it.
    Route("GET", "/api/v1/organization/acme", frozenset(USERS - {"noaccess"}), 200, refused=404),
    Route("GET", "/api/v1/organization/acme/robots/builder", frozenset(USERS), 404),
    Route("GET", REPO, frozenset(READERS), 200),
    Route(
        "GET", "/api/v1/entities/a?namespace=acme&includeTeams=true&includeOrgs=true", frozenset(USERS), 200
    ),
]


def expected_status(route: Route, who: str) -> int:
    if route.signed:
        return 401
    if who in route.allowed:
        return route.success
    if who in ("anonymous", "revoked"):
        return 401
    if who in SOURCES:
        return 403
    return route.refused


@pytest.mark.parametrize("who", PRINCIPALS)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path.removeprefix(REPO)}")
async def test_permission_matrix(
    client: httpx.AsyncClient, world: World, database: Database, route: Route, who: str
) -> None:
    created = await client.post(
        f"{REPO}/notification/",
        json={
            "event": "repo_push",
            "method": "email",
            "config": {"email": "a@example.com"},
            "eventConfig": {},
        },
        headers=world.headers("superuser"),
    )
    assert created.status_code == 201, created.text
    uuid = created.json()["uuid"]
    tested = await client.post(f"{REPO}/notification/{uuid}/test", headers=world.headers("superuser"))
    delivery = tested.json()["delivery"]["id"]
    queued = await client.post(
        f"{REPO}/builds", json={"docker_tags": ["latest"]}, headers=world.headers("superuser")
    )
    assert queued.status_code == 201, queued.text
    async with database.write() as session:  # a finished delivery, so that it can be redelivered
        await session.execute(update(Delivery).values(state="failed"))
    path = route.path.replace("{uuid}", uuid).replace("{delivery}", delivery)
    path = path.replace("{build}", queued.json()["id"])
    response = await client.request(route.method, path, json=route.body, headers=world.headers(who))
    assert response.status_code == expected_status(route, who), (who, route, response.text)
    if response.status_code >= 400:
        assert response.json()["status"] == response.status_code
        assert response.json()["error_message"]


async def test_the_matrix_covers_every_operation_of_the_api(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operations = {(method.upper(), path) for path, methods in schema["paths"].items() for method in methods}

    def covered(method: str, template: str) -> bool:
        pattern = re.sub(r"\\\{repository\\\}", ".+", re.escape(template))
        pattern = re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", pattern)
        return any(
            route.method == method and re.fullmatch(pattern, route.path.split("?")[0]) for route in ROUTES
        )

    assert sorted(op for op in operations if not covered(*op)) == []
    assert len(ROUTES) == len(operations)


@pytest.mark.parametrize("who", ["noaccess", "reader", "admin", "other_admin"])
async def test_missing_repository_is_indistinguishable_from_a_forbidden_one(
    client: httpx.AsyncClient, world: World, who: str
) -> None:
    missing = await client.get("/api/v1/repository/acme/ghost/notification/", headers=world.headers(who))
    forbidden = await client.get("/api/v1/repository/acme/other/notification/", headers=world.headers(who))
    if who == "other_admin":
        assert forbidden.status_code == 200
    else:
        assert forbidden.status_code == 403
        assert missing.status_code == 403
    assert missing.status_code == 403


async def test_superuser_gets_404_for_a_missing_repository(client: httpx.AsyncClient, world: World) -> None:
    response = await client.get(
        "/api/v1/repository/acme/ghost/notification/", headers=world.headers("superuser")
    )
    assert response.status_code == 404
