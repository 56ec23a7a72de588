"""Harbor, zot (CloudEvents) and Docker Hub end to end: a source made with ``source create --kind``, the
sender's requests posted with the settings it printed to a real ``regnotify serve``, and the resulting
webhooks received at a local receiver (as CloudEvents for zot and Docker Hub, read with the
``cloudevents`` SDK as a receiver would)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cloudevents.http import CloudEvent, from_http

from regnotify.db import Database

from ..serving import wait_until_serving
from ..source_samples import digest, dockerhub_push, harbor_push, harbor_scan, zot_data, zot_headers
from .receivers import Receiver
from .receivers import receiver as receiver  # the fixture
from .test_split_processes import wait_for
from .test_walkthrough import REGNOTIFY, cli, make_environment

QUIET_SECONDS = 1.0  # after the expected webhooks arrived, how long nothing more may arrive


@dataclass
class Serving:
    base: str
    environment: dict[str, str]
    log: Path  # everything serve printed: its log lines and the access log

    def output(self) -> str:
        return self.log.read_text()


@pytest.fixture
def serving(tmp_path: Path, database: Database) -> Iterator[Serving]:
    """``regnotify serve`` with no REGNOTIFY_REGISTRY_HOST (docker_url names the sender's host), its
    output kept in a file."""
    environment = make_environment(tmp_path, database)
    del environment["REGNOTIFY_REGISTRY_HOST"]
    log = tmp_path / "serve.log"
    with log.open("w") as output:
        process = subprocess.Popen(
            [*REGNOTIFY, "serve"], env=environment, stdout=output, stderr=subprocess.STDOUT, text=True
        )
        base = f"http://127.0.0.1:{environment['REGNOTIFY_PORT']}"
        try:
            wait_until_serving(process, base)
            yield Serving(base, environment, log)
        finally:
            process.terminate()
            process.wait(timeout=15)


def setting(printed: str, name: str) -> str:
    """The value after ``name:`` on its line of what ``source create`` printed."""
    match = re.search(rf"^\s*{re.escape(name)}:\s+(.+?)\s*$", printed, re.MULTILINE)
    assert match, printed
    return match.group(1)


def make_source(serving: Serving, kind: str) -> str:
    """``source create`` of that kind; what it printed to paste into the sender."""
    made = cli(serving.environment, "source", "create", kind, "--namespace", "acme", "--kind", kind)
    assert made.returncode == 0, made.stderr
    return made.stderr


def watch(serving: Serving, receiver: Receiver, *events: str, webhook_format: str = "quay") -> None:
    """acme/app, and a webhook notification to the receiver for each event kind, in that format."""
    for args in (
        ("user", "create", "alice", "--superuser", "--no-password"),
        ("org", "create", "acme", "--admin", "alice"),
        ("repo", "create", "acme/app"),
    ):
        assert cli(serving.environment, *args).returncode == 0
    token = cli(serving.environment, "token", "create", "--user", "alice", "--name", "ops").stdout.strip()
    for event in events:
        created = httpx.post(
            f"{serving.base}/api/v1/repository/acme/app/notification/",
            headers={"Authorization": f"Bearer {token}"},
            json={
                "event": event,
                "method": "webhook",
                "config": {"url": receiver.url, "format": webhook_format},
                "eventConfig": {},
            },
        )
        assert created.status_code == 201, created.text


def received(receiver: Receiver, count: int) -> list[Any]:
    """The bodies of exactly ``count`` webhooks: waits for them, then a moment for any extra one."""
    assert wait_for(lambda: len(receiver.received) >= count, 30), (
        f"{len(receiver.received)} of {count} arrived"
    )
    wait_for(lambda: len(receiver.received) > count, QUIET_SECONDS)
    with receiver.lock:
        assert len(receiver.received) == count, [item.body for item in receiver.received]
        return [item.body for item in receiver.received]


def cloud_events(receiver: Receiver, count: int) -> list[CloudEvent]:
    """The ``count`` webhooks received, read as CloudEvents by the SDK (binary or structured mode);
    each one's id is its ``webhook-id``."""
    bodies = received(receiver, count)
    with receiver.lock:
        headers = [item.headers for item in receiver.received]
    events = [from_http(dict(sent), json.dumps(body)) for sent, body in zip(headers, bodies, strict=True)]
    assert [event["id"] for event in events] == receiver.ids
    return events


def test_harbor_pushes_and_scans_reach_webhooks(serving: Serving, receiver: Receiver) -> None:
    watch(serving, receiver, "repo_push", "scan_completed")
    printed = make_source(serving, "harbor")
    url, auth_header = setting(printed, "Endpoint URL"), setting(printed, "Auth Header")
    assert url == f"{serving.base}/api/v1/sources/harbor" and auth_header.startswith("Bearer ")

    def send(body: dict[str, Any]) -> dict[str, Any]:
        # Harbor sends the policy's Auth Header verbatim, and Content-Type application/json
        answer = httpx.post(
            url,
            content=json.dumps(body),
            headers={"Authorization": auth_header, "Content-Type": "application/json"},
        )
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    # A two-platform image pushed as acme/app:v1: one event per platform manifest (tag = its digest),
    # then the index's with the tag; then the index's scan (no tag), and a retry of the push.
    for child in (digest("b"), digest("c")):
        assert send(harbor_push(None, child, repository="acme/app"))["ignored"] == 1
    index_push = harbor_push("v1", digest("a"), repository="acme/app")
    assert send(index_push)["accepted"] == 1
    assert send(index_push)["duplicates"] == 1
    scan = harbor_scan({"Critical": 2, "Low": 1}, severity="Critical", fixable=2, digest_=digest("a"))
    scan["event_data"]["repository"].update(repo_full_name="acme/app", namespace="acme", name="app")
    assert send(scan)["accepted"] == 1

    push, scanned = sorted(received(receiver, 2), key=lambda body: "updated_tags" not in body)
    assert (push["repository"], push["updated_tags"]) == ("acme/app", {"v1": digest("a")})
    assert push["docker_url"] == "harbor.example.com/acme/app"
    assert (scanned["tags"], scanned["digest"], scanned["highest_severity"]) == (
        ["v1"],
        digest("a"),
        "Critical",
    )
    assert scanned["counts"]["critical"] == 2 and scanned["total"] == 3


def test_zot_cloudevents_reach_a_webhook(serving: Serving, receiver: Receiver) -> None:
    watch(serving, receiver, "repo_push", webhook_format="cloudevents")
    printed = make_source(serving, "zot")
    config = json.loads(printed[printed.index("{") :])
    (sink,) = config["extensions"]["events"]["sinks"]
    assert sink["address"] == f"{serving.base}/api/v1/sources/cloudevents"

    def send(data: dict[str, Any], event_id: str) -> dict[str, Any]:
        # zot's HTTP sink: binary mode, the credentials' token as a Bearer token
        headers = {
            **zot_headers(event_id=event_id),
            "Authorization": f"Bearer {sink['credentials']['token']}",
        }
        answer = httpx.post(sink["address"], content=json.dumps(data), headers=headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json())

    handshake = httpx.options(sink["address"], headers={"WebHook-Request-Origin": "zot.example.com"})
    assert handshake.headers["WebHook-Allowed-Origin"] == "zot.example.com"
    for index, child in enumerate((digest("b"), digest("c"))):  # untagged: reference = the digest
        assert send(zot_data(child, child, name="acme/app"), f"child-{index}")["ignored"] == 1
    assert send(zot_data("v1", digest("a"), name="acme/app"), "index")["accepted"] == 1
    assert send(zot_data("v1", digest("a"), name="acme/app"), "index")["duplicates"] == 1

    (event,) = cloud_events(receiver, 1)  # structured mode
    assert (event["type"], event["subject"]) == ("io.regnotify.repo_push", "v1")
    assert event["source"] == f"{serving.base}/repository/acme/app"
    push = event.data
    assert (push["repository"], push["updated_tags"]) == ("acme/app", {"v1": digest("a")})


def test_a_docker_hub_push_reaches_a_webhook_without_a_digest(serving: Serving, receiver: Receiver) -> None:
    watch(serving, receiver, "repo_push", webhook_format="cloudevents-binary")
    printed = make_source(serving, "dockerhub")
    url = setting(printed, "Destination URL")
    token = url.rsplit("/", 1)[1]
    assert url == f"{serving.base}/api/v1/sources/dockerhub/{token}" and token.startswith("rnt_")

    body = dockerhub_push("latest", repository="acme/app")
    for pushed_at in (0, 0, 2):  # a delivery sent again, and another one of the same multi-arch push
        body["push_data"]["pushed_at"] = 1417566161 + pushed_at
        answer = httpx.post(url, json=body)  # Docker Hub sends no header of its own
        assert answer.status_code == 200, answer.text
    wrong = httpx.post(f"{serving.base}/api/v1/sources/dockerhub/rnt_wrong", json=body)
    assert wrong.status_code == 401

    (event,) = cloud_events(receiver, 1)  # binary mode: ce-* headers, the payload as the body
    assert (event["type"], event["subject"]) == ("io.regnotify.repo_push", "latest")
    push = event.data
    assert push["updated_tags"] == {"latest": None}  # no digest is made up
    assert push["docker_url"] == "docker.io/acme/app"
    output = serving.output()
    assert "/api/v1/sources/dockerhub/REDACTED" in output  # the access log's lines
    assert token not in output and "rnt_wrong" not in output
