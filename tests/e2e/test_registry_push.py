"""A real registry notifies regnotify: skopeo pushes to CNCF Distribution 2.8, regnotify tells a
webhook and Slack, both local receivers. Every part is a real process on 127.0.0.1.

The registry's endpoint config is the recipe the docs give: a Bearer source token in ``headers``
and ``ignore`` dropping pulls and blobs, so only manifest pushes travel.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ..conftest import require_real_part
from .registry import (
    Capture,
    OciImage,
    Registry,
    Regnotify,
    Skopeo,
    capture_receiver,
    diagnostics,
    missing_tools,
    write_oci_image,
)

# The key order of Quay's repo_push payload (seed/samples/repo_push.json).
QUAY_REPO_PUSH_KEYS = ["repository", "namespace", "name", "docker_url", "homepage", "updated_tags"]
# Quay's Slack attachment (SlackMethod in Quay's notificationmethod.py).
QUAY_SLACK_ATTACHMENT_KEYS = {"fallback", "text", "color", "mrkdwn_in"}
DELIVERY_SECONDS = 30.0
QUIET_SECONDS = 3.0  # after the expected posts arrived, how long nothing more may arrive


@dataclass
class Stack:
    """regnotify serve and a registry notifying it, with the tokens the test uses."""

    workdir: Path
    regnotify: Regnotify
    registry: Registry
    root_token: str
    skopeo: Skopeo

    @contextmanager
    def diagnostics_on_failure(self) -> Iterator[None]:
        """Print both logs and skopeo's output when the block fails (pytest shows them with the failure)."""
        try:
            yield
        except BaseException:
            print(diagnostics(self.registry.service, self.regnotify.service))
            print("===== skopeo =====\n" + "\n".join(self.skopeo.commands))
            raise


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    missing = missing_tools()
    require_real_part(
        not missing,
        f"{' and '.join(missing)} not installed, so the registry end-to-end test cannot run "
        "(Debian: apt-get install docker-registry skopeo)",
    )
    registry = Registry(tmp_path)
    regnotify = Regnotify(tmp_path, registry_host=registry.host)
    try:
        regnotify.start()
        regnotify.cli("user", "create", "root", "--superuser", "--no-password")
        root_token = regnotify.cli("token", "create", "--user", "root")
        source_token = regnotify.cli("source", "create", "registry", "--namespace", "acme")
        assert source_token.startswith("rnt_") and "\n" not in source_token, source_token
        registry.start(endpoint_url=f"{regnotify.api}/registry/events", token=source_token)
        yield Stack(tmp_path, regnotify, registry, root_token, Skopeo(tmp_path))
    except AssertionError:
        print(diagnostics(registry.service, regnotify.service))
        raise
    finally:
        registry.stop()
        regnotify.stop()


async def repository_events(
    api: httpx.AsyncClient, repository: str, *, at_least: int, seconds: float = DELIVERY_SECONDS
) -> list[dict[str, Any]]:
    """The repository's events, newest first, once it exists and holds ``at_least`` of them."""
    deadline = time.monotonic() + seconds
    while True:
        response = await api.get(f"/repository/{repository}/events")
        if response.status_code == 200 and len(response.json()["events"]) >= at_least:
            return list(response.json()["events"])
        if time.monotonic() > deadline:
            raise AssertionError(
                f"{repository}: wanted {at_least} events within {seconds:g}s, last answer "
                f"{response.status_code} {response.text[:500]}"
            )
        await asyncio.sleep(0.2)


async def create_notification(api: httpx.AsyncClient, method: str, url: str) -> str:
    created = await api.post(
        "/repository/acme/app/notification/",
        json={
            "event": "repo_push",
            "method": method,
            "config": {"url": url},
            "eventConfig": {},
            "title": f"e2e {method}",
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["uuid"])


def assert_quay_push_payload(payload: Any, stack: Stack, repository: str, tags: dict[str, str]) -> None:
    namespace, _, name = repository.partition("/")
    assert isinstance(payload, dict), payload
    assert list(payload) == QUAY_REPO_PUSH_KEYS, payload
    assert payload == {
        "repository": repository,
        "namespace": namespace,
        "name": name,
        "docker_url": f"{stack.registry.host}/{repository}",
        "homepage": f"{stack.regnotify.base}/repository/{repository}",
        "updated_tags": tags,
    }


async def test_registry_pushes_notify_a_webhook_and_slack_once_per_tag(stack: Stack) -> None:
    with stack.diagnostics_on_failure():
        image = write_oci_image(
            stack.workdir / "image", {"hello.txt": b"hello from the regnotify e2e test\n"}
        )
        async with (
            capture_receiver() as capture,
            httpx.AsyncClient(
                base_url=stack.regnotify.api,
                headers={"Authorization": f"Bearer {stack.root_token}"},
                timeout=10,
            ) as api,
        ):
            await run_pushes(stack, image, capture, api)


async def run_pushes(stack: Stack, image: OciImage, capture: Capture, api: httpx.AsyncClient) -> None:
    skopeo, app = stack.skopeo, f"{stack.registry.host}/acme/app"

    # The first push creates acme/app (and the organization acme) in regnotify.
    await skopeo.push(image, f"{app}:bootstrap")
    digest = await skopeo.digest(f"{app}:bootstrap")
    assert digest == image.manifest_digest  # skopeo kept the manifest we wrote, byte for byte
    [bootstrap] = await repository_events(api, "acme/app", at_least=1)
    assert bootstrap["kind"] == "repo_push" and bootstrap["deliveries"] == []
    assert_quay_push_payload(bootstrap["payload"], stack, "acme/app", {"bootstrap": digest})

    await create_notification(api, "webhook", capture.hook_url)
    await create_notification(api, "slack", capture.slack_url)

    # Two new tags, then v1 again unchanged: Distribution reports all three, regnotify notifies twice.
    for tag in ("v1", "v2", "v1"):
        await skopeo.push(image, f"{app}:{tag}")
    assert await skopeo.digest(f"{app}:v1") == digest
    # A three-component name: namespace acme, name team/app (no notifications there).
    await skopeo.push(image, f"{stack.registry.host}/acme/team/app:v1")

    # The registry delivered every event with a 2xx, and its ignore filter let only the five manifest
    # pushes through (no blob pushes, no pulls from skopeo's own reads and inspects).
    counters = await stack.registry.settled(at_least=5)
    assert counters.events == 5 and set(counters.statuses) == {"200 OK"}, counters

    await capture.wait_for(lambda: len(capture.hooks), 2, DELIVERY_SECONDS, "webhook repo_push payloads")
    await capture.wait_for(lambda: len(capture.slack), 2, DELIVERY_SECONDS, "Slack messages")
    await asyncio.sleep(QUIET_SECONDS)
    assert len(capture.hooks) == 2, capture.hooks
    assert len(capture.slack) == 2, capture.slack

    hooks = sorted(capture.hooks, key=lambda payload: sorted(payload.get("updated_tags", {})))
    assert_quay_push_payload(hooks[0], stack, "acme/app", {"v1": digest})
    assert_quay_push_payload(hooks[1], stack, "acme/app", {"v2": digest})
    webhook_headers = [h for h in capture.headers if h.get("X-Regnotify-Event")]
    assert [h["X-Regnotify-Event"] for h in webhook_headers] == ["repo_push", "repo_push"]
    assert len({h["webhook-id"] for h in webhook_headers}) == 2

    tags_in_slack = set()
    for message in capture.slack:
        assert "acme/app" in message["text"], message
        [attachment] = message["attachments"]
        assert set(attachment) == QUAY_SLACK_ATTACHMENT_KEYS, message
        assert attachment["fallback"] == message["text"] and attachment["mrkdwn_in"] == ["text"], message
        assert "acme/app" in attachment["text"], message
        tags_in_slack |= {tag for tag in ("v1", "v2") if re.search(rf"pushed:\W*{tag}\b", attachment["text"])}
    assert tags_in_slack == {"v1", "v2"}, capture.slack

    # regnotify stored bootstrap, v1 and v2 for acme/app; the repeated v1 is not an event.
    events = await repository_events(api, "acme/app", at_least=3)
    assert sorted(tag for event in events for tag in event["payload"]["updated_tags"]) == [
        "bootstrap",
        "v1",
        "v2",
    ]
    assert {event["source"] for event in events} == {"registry:registry"}, events

    [team_app] = await repository_events(api, "acme/team/app", at_least=1)
    assert team_app["deliveries"] == []
    assert_quay_push_payload(team_app["payload"], stack, "acme/team/app", {"v1": digest})

    # Nothing the registry sent was refused.
    rejections = await api.get("/registry/rejections")
    assert rejections.status_code == 200 and rejections.json()["rejections"] == [], rejections.text
