"""Bad input of every shape gets a 4xx in Quay's error shape, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database

from .conftest import World
from .test_notifications_api import assert_quay_error

BASE = "/api/v1/repository/acme/app/notification/"


async def test_body_too_large_is_413(client: httpx.AsyncClient, world: World) -> None:
    big = b'{"event": "repo_push", "title": "' + b"x" * (2 * 1024 * 1024) + b'"}'
    response = await client.post(
        BASE, content=big, headers={**world.headers("admin"), "Content-Type": "application/json"}
    )
    assert_quay_error(response, 413, "too large")


async def test_body_too_large_without_content_length_is_413(client: httpx.AsyncClient, world: World) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(40):
            yield b"x" * 65536

    response = await client.post(
        BASE, content=chunks(), headers={**world.headers("admin"), "Content-Type": "application/json"}
    )
    assert_quay_error(response, 413, "too large")


async def test_malformed_bodies(client: httpx.AsyncClient, world: World) -> None:
    headers = {**world.headers("admin"), "Content-Type": "application/json"}
    for content in (b"{not json", b"\xff\xfe\xfa", b"[]", b'"text"', b"", b"[" * 5000 + b"]" * 5000):
        response = await client.post(BASE, content=content, headers=headers)
        assert 400 <= response.status_code < 500, (content[:20], response.text)
        assert response.json()["status"] == response.status_code


async def test_bad_authorization_headers(client: httpx.AsyncClient) -> None:
    for header in ("Basic dXNlcjpwYXNz", "Bearer ", "Bearer not-a-token", "Bearer rnt_" + "x" * 500):
        response = await client.get(BASE, headers={"Authorization": header})
        assert_quay_error(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer")


async def test_unknown_route_and_method(client: httpx.AsyncClient, world: World) -> None:
    assert_quay_error(
        await client.get("/api/v1/nothing-here", headers=world.headers("admin")), 404, "no such route"
    )
    response = await client.put(BASE, headers=world.headers("admin"))
    assert response.status_code == 405
    assert response.json()["status"] == 405


async def test_invalid_repository_names(client: httpx.AsyncClient, world: World) -> None:
    for path in ("/api/v1/repository/ACME/App/notification/", "/api/v1/repository/acme/a..b/notification/"):
        assert_quay_error(
            await client.get(path, headers=world.headers("superuser")), 400, "invalid repository"
        )


async def test_openapi_and_docs_are_served(client: httpx.AsyncClient) -> None:
    spec = await client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.json()["paths"]
    assert "/api/v1/repository/{repository}/notification/" in paths
    assert "/api/v1/repository/{repository}/notification/{uuid}/test" in paths
    assert "/api/v1/repository/{repository}/events" in paths
    assert (await client.get("/docs")).status_code == 200


async def test_database_down_is_503_in_quay_shape(tmp_path: Path) -> None:
    unreachable = Database("postgresql+psycopg://postgres@127.0.0.1:1/none")
    settings = Settings(data_dir=tmp_path, secret_key=Fernet.generate_key().decode())
    app = create_app(settings, database=unreachable)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as http:
            response = await http.get(BASE, headers={"Authorization": "Bearer rnt_whatever"})
    assert_quay_error(response, 503, "database is unavailable")
    assert response.headers["retry-after"] == "5"
    await unreachable.dispose()
