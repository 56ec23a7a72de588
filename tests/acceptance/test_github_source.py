"""GitHub end to end: a source made with ``source create --kind github``, GitHub's signed deliveries
of a multi-arch push posted to the printed Payload URL of a real ``regnotify serve``, and the
resulting webhook received at a local receiver."""

from __future__ import annotations

import json
import re

import httpx

from ..github_samples import delivery, headers
from .receivers import Receiver
from .receivers import receiver as receiver  # the fixture
from .test_split_processes import wait_for
from .test_walkthrough import cli
from .test_walkthrough import environment as environment  # the fixture
from .test_walkthrough import server as server  # the fixture

INDEX = "sha256:" + "a" * 64
AMD64 = "sha256:" + "b" * 64
ARM64 = "sha256:" + "c" * 64


def printed(text: str, name: str) -> str:
    match = re.search(rf"^\s*{name}:\s+(\S+)$", text, re.MULTILINE)
    assert match, text
    return match.group(1)


def deliver(url: str, secret: str | None, body: object, *, event: str, delivery_id: str) -> httpx.Response:
    raw = json.dumps(body).encode()
    return httpx.post(url, content=raw, headers=headers(secret, raw, event=event, delivery_id=delivery_id))


def test_a_signed_github_push_reaches_a_webhook(
    environment: dict[str, str], server: str, receiver: Receiver
) -> None:
    for args in (
        ("user", "create", "alice", "--superuser", "--no-password"),
        ("org", "create", "acme", "--admin", "alice"),
        ("repo", "create", "acme/app"),
    ):
        assert cli(environment, *args).returncode == 0
    token = cli(environment, "token", "create", "--user", "alice", "--name", "ops").stdout.strip()
    created = httpx.post(
        f"{server}/api/v1/repository/acme/app/notification/",
        headers={"Authorization": f"Bearer {token}"},
        json={"event": "repo_push", "method": "webhook", "config": {"url": receiver.url}, "eventConfig": {}},
    )
    assert created.status_code == 201, created.text

    made = cli(environment, "source", "create", "ghcr", "--namespace", "acme", "--kind", "github")
    assert made.returncode == 0, made.stderr
    url, secret = printed(made.stderr, "Payload URL"), printed(made.stderr, "Secret")
    assert url.startswith(f"{server}/api/v1/sources/github/")

    ping = {
        "zen": "Design for failure.",
        "hook_id": 1,
        "hook": {"type": "Organization", "events": ["package"]},
    }
    assert deliver(url, secret, ping, event="ping", delivery_id="p-1").status_code == 200
    unsigned = deliver(url, None, delivery(owner="acme", name="app"), event="package", delivery_id="x-1")
    assert unsigned.status_code == 401 and "X-Hub-Signature-256" in unsigned.json()["error_message"]

    # A two-platform image pushed as acme/app:v1: GitHub fires once per manifest, the index last.
    for digest, tag, delivery_id in (
        (AMD64, "", "d-amd64"),
        (ARM64, "", "d-arm64"),
        (INDEX, "v1", "d-index"),
    ):
        body = delivery(owner="Acme", name="app", tag=tag, digest=digest)
        answer = deliver(url, secret, body, event="package", delivery_id=delivery_id)
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == (1 if tag else 0)
    again = deliver(
        url,
        secret,
        delivery(owner="Acme", name="app", tag="v1", digest=INDEX),
        event="package",
        delivery_id="d-index",
    )
    assert again.json() == {"accepted": 0, "duplicates": 1, "ignored": 0, "rejected": 0}

    assert wait_for(lambda: len(receiver.received) >= 1, 30), "no webhook arrived"
    (received,) = receiver.received
    assert received.body["repository"] == "acme/app"
    assert received.body["updated_tags"] == {"v1": INDEX}
    assert received.headers.get("webhook-id")
