"""The README's walkthrough, as a new user runs it: real CLI processes and a real server over HTTP."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from regnotify.db import Database

from ..serving import wait_until_serving

REGNOTIFY = [sys.executable, "-m", "regnotify.cli"]
DIGEST = "sha256:b750fe79269d2ec9a3c593ef05b4332b1d1a02a62b4accb2c21d589ff2f5f2dc"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_environment(tmp_path: Path, database: Database) -> dict[str, str]:
    """The environment of a regnotify process on the test database, with a data dir of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
    env.update(
        REGNOTIFY_DATA_DIR=str(tmp_path / "data"),
        REGNOTIFY_PORT=str(free_port()),
        REGNOTIFY_REGISTRY_HOST="registry.test:5000",
        REGNOTIFY_OUTBOUND_ALLOWED_NETWORKS='["127.0.0.0/8"]',
    )
    if database.dialect == "postgresql":
        env["REGNOTIFY_DATABASE_URL"] = database.url
    return env


@pytest.fixture
def environment(tmp_path: Path, database: Database) -> dict[str, str]:
    return make_environment(tmp_path, database)


def cli(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*REGNOTIFY, *args], env=env, input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


@pytest.fixture
def server(environment: dict[str, str]) -> Iterator[str]:
    process = subprocess.Popen(
        [*REGNOTIFY, "serve"], env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{environment['REGNOTIFY_PORT']}"
    try:
        wait_until_serving(process, base)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_walkthrough(environment: dict[str, str], server: str) -> None:
    for args in (
        ("user", "create", "alice", "--superuser", "--no-password"),
        ("org", "create", "acme", "--admin", "alice"),
        ("repo", "create", "acme/app"),
    ):
        result = cli(environment, *args)
        assert result.returncode == 0, result.stderr
    issued = cli(environment, "token", "create", "--user", "alice", "--name", "walkthrough")
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert token.startswith("rnt_") and "shown once" in issued.stderr
    headers = {"Authorization": f"Bearer {token}"}
    api = f"{server}/api/v1"

    created = httpx.post(
        f"{api}/repository/acme/app/notification/",
        headers=headers,
        json={
            "event": "repo_push",
            "method": "webhook",
            "config": {"url": "http://127.0.0.1:9/hooks/registry", "secret": True},
            "eventConfig": {"tag-patterns": ["v*"]},
            "title": "Tell CI",
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["signing_secret"].startswith("whsec_")

    body = {"kind": "repo_push", "id": "push-1", "data": {"updated_tags": {"v1.0": DIGEST}}}
    posted = httpx.post(f"{api}/repository/acme/app/events", headers=headers, json=body)
    assert posted.status_code == 201, posted.text
    assert posted.json()["payload"]["docker_url"] == "registry.test:5000/acme/app"
    assert [d["state"] for d in posted.json()["deliveries"]] == ["pending"]

    again = httpx.post(f"{api}/repository/acme/app/events", headers=headers, json=body)
    assert again.status_code == 200 and again.json()["duplicate"] is True

    latest = dict(body, id="push-2", data={"updated_tags": {"latest": DIGEST}})
    filtered = httpx.post(f"{api}/repository/acme/app/events", headers=headers, json=latest)
    assert filtered.status_code == 201 and filtered.json()["deliveries"] == []


def test_cli_errors_are_messages_not_tracebacks(environment: dict[str, str], database: Database) -> None:
    assert cli(environment, "user", "create", "bob", "--no-password").returncode == 0
    for args, fragment in (
        (("user", "create", "bob", "--no-password"), "already taken"),
        (("repo", "create", "ghost/app"), "create it first"),
        (("permission", "grant", "bob/app", "owner", "--user", "bob"), "unknown role"),
        (("permission", "grant", "bob/app", "read", "--user", "bob"), "no repository"),
        (("team", "create", "nope", "devs"), "no organization"),
        (("token", "create"), "exactly one"),
    ):
        result = cli(environment, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert fragment in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_password_from_stdin(environment: dict[str, str], database: Database) -> None:
    result = cli(environment, "user", "create", "carol", "--password-stdin", stdin="long enough secret\n")
    assert result.returncode == 0, result.stderr
    short = cli(environment, "user", "create", "dave", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "too short" in short.stderr
