"""Source tokens scoped to namespaces, and how many namespaces one source may create.

A source token made with ``--namespace`` posts to those namespaces only: elsewhere its events are
403s on the repository routes, and refused (recorded, 200) in a registry's envelope. Any source
creates at most ``SOURCE_MAX_NEW_NAMESPACES`` namespaces; past that its pushes to new ones are
refused the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from regnotify import accounts
from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import ApiToken, Event, Organization

from .conftest import World, fixed_resolver
from .test_notifications_api import assert_quay_error
from .test_registry_receiver import MEDIA_TYPE, event

REPO = "/api/v1/repository/acme/app"
REGISTRY = "/api/v1/registry/events"
DIGEST = "sha256:" + "e" * 64
SERVICE_ROUTES: list[tuple[str, str, dict[str, Any]]] = [
    ("POST", "events", {"kind": "repo_push", "data": {"updated_tags": {"latest": DIGEST}}}),
    ("POST", "builds", {"docker_tags": ["latest"]}),
    ("POST", "mirror/sync", {"status": "started", "external_reference": "mirror.example.com/acme/app"}),
    ("PUT", "tag/latest/expiration", {"expires_at": "2030-01-01T00:00:00Z"}),
    ("POST", "vulnerabilities", {"tags": ["latest"], "vulnerability": {"id": "CVE-1", "priority": "High"}}),
    ("POST", "vulnerabilities/import?format=trivy&tag=latest", {"SchemaVersion": 2, "Results": []}),
]


@pytest.fixture
async def sources(world: World, database: Database) -> dict[str, str]:
    """Tokens: ``acme`` (scoped to acme), ``two`` (globex and initech), ``all`` (every namespace)."""
    async with database.write() as session:
        await accounts.create_organization(session, "globex")
        await accounts.create_repository(session, "globex/app")
        issued = {
            "acme": await accounts.issue_token(session, name="acme-ci", namespaces=["acme"]),
            "two": await accounts.issue_token(session, name="globex-ci", namespaces=["globex", "initech"]),
            "all": await accounts.issue_token(session, name="everywhere"),
        }
    return {label: token.secret for label, token in issued.items()}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def envelope(client: httpx.AsyncClient, token: str, events: list[dict[str, Any]]) -> httpx.Response:
    return await client.post(
        REGISTRY, json={"events": events}, headers={**bearer(token), "Content-Type": MEDIA_TYPE}
    )


async def rejections(client: httpx.AsyncClient, world: World) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
    assert response.status_code == 200, response.text
    return list(response.json()["rejections"])


async def organizations(database: Database) -> dict[str, int | None]:
    async with database.read() as session:
        rows = await session.execute(select(Organization.name, Organization.created_by_token_id))
        return {name: token for name, token in rows}


@pytest.mark.parametrize(("method", "route", "body"), SERVICE_ROUTES, ids=[r[1] for r in SERVICE_ROUTES])
async def test_a_scoped_source_reaches_its_namespaces_only(
    client: httpx.AsyncClient, sources: dict[str, str], method: str, route: str, body: dict[str, Any]
) -> None:
    inside = await client.request(method, f"{REPO}/{route}", json=body, headers=bearer(sources["acme"]))
    assert inside.status_code in (200, 201), inside.text
    for path in (f"{REPO}/{route}", f"/api/v1/repository/acme/ghost/{route}"):  # missing or not: 403
        outside = await client.request(method, path, json=body, headers=bearer(sources["two"]))
        assert_quay_error(outside, 403, "globex-ci", "globex, initech", "acme")


async def test_the_scope_holds_for_cached_tokens(
    client: httpx.AsyncClient, sources: dict[str, str], settings: Settings
) -> None:
    assert settings.token_cache_seconds > 0  # the second request of each pair is answered from the cache
    body = SERVICE_ROUTES[0][2]
    for _ in range(2):
        assert (
            await client.post(f"{REPO}/events", json=body, headers=bearer(sources["acme"]))
        ).status_code == 201
        refused = await client.post(f"{REPO}/events", json=body, headers=bearer(sources["two"]))
        assert_quay_error(refused, 403, "globex-ci")
        ok = await client.post(
            "/api/v1/repository/globex/app/events", json=body, headers=bearer(sources["two"])
        )
        assert ok.status_code == 201, ok.text


async def test_a_registry_envelope_outside_the_scope_is_refused_event_by_event(
    client: httpx.AsyncClient, world: World, database: Database, sources: dict[str, str]
) -> None:
    response = await envelope(
        client,
        sources["acme"],
        [
            event(repository="acme/app", tag="v1", event_id="in"),
            event(repository="globex/app", tag="v1", event_id="other-org"),
            event(repository="frank/app", tag="v1", event_id="squat"),
            event(repository="acme/new", tag="v1", event_id="in-new-repo"),
        ],
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 2, "duplicates": 0, "ignored": 0, "rejected": 2}
    refused = {r["event_id"]: r for r in await rejections(client, world)}
    assert refused.keys() == {"other-org", "squat"}
    assert "acme-ci may post to namespace acme only, not frank" in refused["squat"]["reason"]
    assert refused["squat"]["source"] == "registry:acme-ci" and "frank/app" in refused["squat"]["excerpt"]
    assert "frank" not in await organizations(database)  # the name is not taken
    async with database.read() as session:
        stored = {e.payload["repository"] for e in await session.scalars(select(Event))}
    assert stored == {"acme/app", "acme/new"}


async def test_each_source_creates_a_limited_number_of_namespaces(
    settings: Settings, database: Database, world: World, sources: dict[str, str]
) -> None:
    async with limited_client(settings, database, limit=2) as client:
        first = await envelope(
            client,
            sources["all"],
            [
                event(repository="ns1/app", event_id="a"),
                event(repository="ns1/other", event_id="b"),  # ns1 again: created once
                event(repository="ns2/app", event_id="c"),
                event(repository="ns3/app", event_id="d"),  # a third: refused
                event(repository="acme/new", event_id="e"),  # acme exists: does not count
            ],
        )
        assert first.json() == {"accepted": 4, "duplicates": 0, "ignored": 0, "rejected": 1}
        again = await envelope(
            client, sources["all"], [event(repository="ns2/more", event_id="f"), event(repository="ns4/app")]
        )
        assert again.json() == {"accepted": 1, "duplicates": 0, "ignored": 0, "rejected": 1}
        # another source has a limit of its own; one scoped to namespaces counts the same way
        assert (await envelope(client, sources["two"], [event(repository="initech/app")])).json()[
            "accepted"
        ] == 1
        refused = {r["event_id"]: r["reason"] for r in await rejections(client, world)}
        assert len(refused) == 2 and "namespace ns3 does not exist" in refused["d"]
        for reason in refused.values():
            assert "source everywhere has created 2 namespaces" in reason
            assert "SOURCE_MAX_NEW_NAMESPACES=2" in reason
    async with database.read() as session:
        ids = {t.name: t.id for t in await session.scalars(select(ApiToken))}
    assert await organizations(database) == {
        "acme": None,
        "globex": None,
        "ns1": ids["everywhere"],
        "ns2": ids["everywhere"],
        "initech": ids["globex-ci"],
    }


async def test_the_namespace_limit_holds_for_concurrent_envelopes(
    settings: Settings, database: Database, world: World, sources: dict[str, str]
) -> None:
    """Envelopes stored in one shared transaction, or in concurrent ones (two applications, as two
    API processes), count against one limit."""
    async with (
        limited_client(settings, database, limit=3) as one,
        limited_client(settings, database, limit=3) as two,
    ):
        answers = await asyncio.gather(
            *(
                envelope(one if i % 2 else two, sources["all"], [event(repository=f"burst{i}/app")])
                for i in range(16)
            )
        )
    assert [a.status_code for a in answers] == [200] * 16
    assert sum(a.json()["accepted"] for a in answers) == 3
    assert sum(a.json()["rejected"] for a in answers) == 13
    assert sum(1 for name in await organizations(database) if name.startswith("burst")) == 3


@contextlib.asynccontextmanager
async def limited_client(
    settings: Settings, database: Database, *, limit: int
) -> AsyncIterator[httpx.AsyncClient]:
    """A client of an application whose sources may create at most ``limit`` namespaces each."""
    app = create_app(
        settings.model_copy(update={"source_max_new_namespaces": limit}),
        database=database,
        resolver=fixed_resolver,
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://regnotify.test") as http:
            yield http
