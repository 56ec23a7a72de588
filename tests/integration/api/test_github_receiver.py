"""The GitHub receiver with signed ``package`` deliveries: the signature, what notifies, what is
ignored, what is refused, and repeats."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from regnotify import accounts
from regnotify.accounts.tokens import set_webhook_secret
from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Event, IngestRejection, Organization
from regnotify.runtime.crypto import SecretBox

from ...github_samples import delivery, headers
from .conftest import World
from .test_notifications_api import assert_quay_error

INDEX = "sha256:" + "1" * 64
PLATFORM = "sha256:" + "2" * 64


@dataclass
class Source:
    id: int
    secret: str

    @property
    def url(self) -> str:
        return f"/api/v1/sources/github/{self.id}"


@pytest.fixture
async def github(database: Database, settings: Settings, world: World) -> Source:
    """A source for acme's packages, with its webhook secret (sealed with the application's key)."""
    assert settings.secret_key is not None
    async with database.write() as session:
        issued = await accounts.issue_token(session, name="ghcr", namespaces=["acme"])
        secret = await set_webhook_secret(session, issued.id, SecretBox(settings.secret_key))
    return Source(issued.id, secret)


async def send(
    client: httpx.AsyncClient,
    source: Source,
    body: Any,
    *,
    event: str = "package",
    delivery_id: str = "d-1",
    secret: str | None = "",
    url: str | None = None,
) -> httpx.Response:
    """POST ``body`` as GitHub does, signed with the source's secret (``secret``: with another one;
    None: unsigned)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    signing = source.secret if secret == "" else secret
    sent = headers(signing, raw, event=event, delivery_id=delivery_id)
    return await client.post(url or source.url, content=raw, headers=sent)


async def payloads(database: Database) -> list[dict[str, Any]]:
    async with database.read() as session:
        return [e.payload for e in await session.scalars(select(Event).order_by(Event.id))]


async def test_a_signed_tag_push_becomes_repo_push(
    client: httpx.AsyncClient, world: World, github: Source, database: Database
) -> None:
    hook = {"event": "repo_push", "method": "webhook", "config": {"url": "https://receiver.example.com/h"}}
    created = await client.post(
        "/api/v1/repository/acme/app/notification/",
        json={**hook, "eventConfig": {}},
        headers=world.headers("admin"),
    )
    assert created.status_code == 201, created.text
    response = await send(client, github, delivery(owner="Acme", name="App", tag="v1", digest=INDEX))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0, "ignored": 0, "rejected": 0}
    (payload,) = await payloads(database)
    assert payload["repository"] == "acme/app" and payload["updated_tags"] == {"v1": INDEX}
    async with database.read() as session:
        stored = await session.scalar(select(Event))
    assert stored is not None and stored.external_id == "d-1" and stored.source == "github:ghcr"
    listed = await client.get(
        f"/api/v1/repository/acme/app/notification/{created.json()['uuid']}/deliveries",
        headers=world.headers("admin"),
    )
    assert len(listed.json()["deliveries"]) == 1


async def test_the_legacy_registry_package_event_notifies_too(
    client: httpx.AsyncClient, github: Source, database: Database
) -> None:
    body = delivery(event="registry_package", owner="acme", name="app")
    response = await send(client, github, body, event="registry_package")
    assert response.json()["accepted"] == 1
    assert [p["updated_tags"] for p in await payloads(database)] == [
        {"v1": body["registry_package"]["package_version"]["name"]}
    ]


async def test_a_missing_or_wrong_signature_is_a_401_before_the_body_is_read(
    client: httpx.AsyncClient, github: Source, database: Database
) -> None:
    body = delivery(owner="acme", name="app")
    assert_quay_error(await send(client, github, body, secret=None), 401, "X-Hub-Signature-256", "Secret")
    wrong = await send(client, github, body, secret="not-the-secret-at-all")
    assert_quay_error(wrong, 401, "does not match")
    assert wrong.headers["WWW-Authenticate"].startswith("HMAC")
    raw = json.dumps(body).encode()
    tampered = headers(github.secret, raw)  # signed, then the body changed on the way
    changed = await client.post(github.url, content=raw.replace(b'"v1"', b'"v2"'), headers=tampered)
    assert_quay_error(changed, 401, "does not match")
    # Not JSON, but unsigned: refused for the signature, never parsed.
    assert_quay_error(
        await send(client, github, b"{not json", secret="wrong-secret-0000"), 401, "does not match"
    )
    assert await payloads(database) == []


async def test_unknown_revoked_and_user_token_sources_are_told_what_a_wrong_signature_is(
    client: httpx.AsyncClient, world: World, github: Source, database: Database, settings: Settings
) -> None:
    wrong = (await send(client, github, delivery(), secret="not-the-secret-at-all")).json()["detail"]
    async with database.write() as session:
        user = await accounts.find_user(session, "admin")
        user_token = await accounts.issue_token(session, name="mine", user=user)
        revoked = await accounts.issue_token(session, name="gone", namespaces=["acme"])
        assert settings.secret_key is not None
        revoked_secret = await set_webhook_secret(session, revoked.id, SecretBox(settings.secret_key))
        await accounts.revoke_token(session, revoked.id)
    for number, secret in (
        (987654, github.secret),
        (user_token.id, github.secret),
        (revoked.id, revoked_secret),
    ):
        response = await send(
            client, github, delivery(), secret=secret, url=f"/api/v1/sources/github/{number}"
        )
        body = assert_quay_error(response, 401)
        assert body["detail"].replace(str(number), "N") == wrong.replace(str(github.id), "N")


async def test_a_token_in_the_path_is_refused_and_not_echoed(
    client: httpx.AsyncClient, world: World, github: Source
) -> None:
    token = world.tokens["acme_source"]
    response = await send(client, github, delivery(), url=f"/api/v1/sources/github/{token}")
    body = assert_quay_error(response, 401, "number", "never with its token")
    assert token not in response.text and body["status"] == 401


async def test_a_source_without_a_secret_answers_as_a_wrong_signature(
    client: httpx.AsyncClient, world: World, database: Database
) -> None:
    """Told apart from a missing source, it would say which numbers are sources; the message still
    says how to make a secret."""
    async with database.write() as session:
        plain = await accounts.issue_token(session, name="plain", namespaces=["acme"])
    source = Source(plain.id, "whatever-it-signs-with")
    response = await send(client, source, delivery())
    missing = await send(client, Source(plain.id + 1000, "whatever-it-signs-with"), delivery())
    said = assert_quay_error(response, 401, "does not match", "regnotify source github-secret")["detail"]
    unknown = assert_quay_error(missing, 401)["detail"]
    assert said.replace(str(plain.id), "N") == unknown.replace(str(plain.id + 1000), "N")


async def test_ping_is_answered_once_the_signature_matches(
    client: httpx.AsyncClient, github: Source, database: Database
) -> None:
    ping = {"zen": "Keep it logically awesome.", "hook_id": 292430182, "hook": {"events": ["package"]}}
    response = await send(client, github, ping, event="ping")
    assert response.status_code == 200 and response.json()["accepted"] == 0
    assert_quay_error(await send(client, github, ping, event="ping", secret="not-the-secret-at-all"), 401)
    assert await payloads(database) == []


async def test_what_is_ignored(client: httpx.AsyncClient, github: Source, database: Database) -> None:
    for body, event in (
        (delivery(owner="acme", name="app", tag=""), "package"),  # a manifest without a tag
        (delivery(owner="acme", name="app", package_type="npm", ecosystem="npm"), "package"),
        (delivery(owner="acme", name="app", action="deleted"), "package"),
        ({"ref": "refs/heads/main"}, "push"),
    ):
        response = await send(client, github, body, event=event)
        assert response.json() == {"accepted": 0, "duplicates": 0, "ignored": 1, "rejected": 0}, event
    assert await payloads(database) == []


async def test_a_multi_arch_push_notifies_once_with_the_index_digest(
    client: httpx.AsyncClient, github: Source, database: Database
) -> None:
    for digest, tag, delivery_id in ((PLATFORM, "", "d-amd64"), (INDEX, "latest", "d-index")):
        await send(
            client,
            github,
            delivery(owner="acme", name="app", tag=tag, digest=digest),
            delivery_id=delivery_id,
        )
    assert [p["updated_tags"] for p in await payloads(database)] == [{"latest": INDEX}]


async def test_repeats_notify_once(client: httpx.AsyncClient, github: Source, database: Database) -> None:
    body = delivery(owner="acme", name="app")
    first = await send(client, github, body, delivery_id="d-7")
    again = await send(client, github, body, delivery_id="d-7")  # redelivered from GitHub's page
    other = await send(client, github, body, delivery_id="d-8")  # the same tag and digest, in the window
    assert [r.json()["accepted"] for r in (first, again, other)] == [1, 0, 0]
    assert [r.json()["duplicates"] for r in (again, other)] == [1, 1]
    assert len(await payloads(database)) == 1


async def test_malformed_bodies_are_a_400(client: httpx.AsyncClient, github: Source) -> None:
    assert_quay_error(await send(client, github, b"{not json"), 400, "GitHub webhook payload")
    raw = b"payload=%7B%7D"
    form = {**headers(github.secret, raw), "Content-Type": "application/x-www-form-urlencoded"}
    assert_quay_error(await client.post(github.url, content=raw, headers=form), 400, "application/json")


async def test_packages_outside_the_sources_namespaces_are_recorded_as_refused(
    client: httpx.AsyncClient, github: Source, database: Database, world: World
) -> None:
    response = await send(client, github, delivery(owner="globex", name="app"), delivery_id="d-out")
    assert response.json() == {"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 1}
    async with database.read() as session:
        (rejection,) = await session.scalars(select(IngestRejection))
        globex = await session.scalar(select(func.count()).where(Organization.name == "globex"))
    assert rejection.source == "github:ghcr" and rejection.external_id == "d-out"
    assert "may post to namespace acme only, not globex" in rejection.reason
    assert globex == 0  # a scoped source creates no namespace outside its own
    listing = await client.get("/api/v1/registry/rejections", headers=world.headers("superuser"))
    assert listing.json()["rejections"][0]["source"] == "github:ghcr"


async def test_the_secret_appears_in_no_answer_and_no_log_line(
    client: httpx.AsyncClient, github: Source, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        await send(client, github, delivery(owner="acme", name="app")),
        await send(client, github, delivery(owner="globex", name="app"), delivery_id="d-2"),  # refused
        await send(client, github, delivery(), secret="not-the-secret-at-all"),
        await send(client, github, delivery(), secret=None),
        await send(client, github, b"{not json"),
    ]
    assert [answer.status_code for answer in answers] == [200, 200, 401, 401, 400]
    seen = [answer.text for answer in answers] + [record.getMessage() for record in caplog.records]
    assert seen and not [text for text in seen if github.secret in text]
