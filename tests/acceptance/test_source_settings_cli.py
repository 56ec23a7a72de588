"""``regnotify source create --kind`` and ``source github-secret`` as an operator runs them: the token
on standard output as before, then the settings to paste into each kind of sender; GitHub's secret
stored sealed, opening to what was printed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select

from regnotify.accounts.tokens import open_webhook_secret
from regnotify.db import Database
from regnotify.db.models import ApiToken
from regnotify.runtime.crypto import SecretBox

BASE = "https://regnotify.example.com"
KEY = Fernet.generate_key().decode()


def regnotify(
    tmp_path: Path, database: Database, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
    env.update(
        REGNOTIFY_DATA_DIR=str(tmp_path / "data"),
        REGNOTIFY_DATABASE_URL=database.url,
        REGNOTIFY_SECRET_KEY=KEY,
        REGNOTIFY_PUBLIC_BASE_URL=BASE + "/",
    )
    return subprocess.run(
        [sys.executable, "-m", "regnotify.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def create(tmp_path: Path, database: Database, *args: str) -> tuple[str, str]:
    """``source create`` with ``args``: the token (all of standard output) and standard error."""
    made = regnotify(tmp_path, database, "source", "create", *args)
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert made.stdout == token + "\n" and token.startswith("rnt_")
    return token, made.stderr


def field(text: str, name: str) -> str:
    match = re.search(rf"^\s*{re.escape(name)}:\s+(.+)$", text, re.MULTILINE)
    assert match, text
    return match.group(1).strip()


async def stored_secret(database: Database, source_id: int) -> str | None:
    async with database.read() as session:
        token = await session.scalar(select(ApiToken).where(ApiToken.id == source_id))
    assert token is not None
    return token.webhook_secret


def test_distribution_is_the_default_and_prints_the_registry_yaml(tmp_path: Path, database: Database) -> None:
    token, told = create(tmp_path, database, "registry", "--namespace", "acme")
    first, _, settings = told.partition("\n")
    assert first.startswith(
        "source registry (token 1) may post to namespace acme only: shown once; put it in"
    )
    assert f"url: {BASE}/api/v1/registry/events" in settings
    assert f'Authorization: ["Bearer {token}"]' in settings
    assert "actions: [pull]" in settings


def test_harbor_zot_cloudevents_and_docker_hub_settings(tmp_path: Path, database: Database) -> None:
    token, told = create(tmp_path, database, "harbor", "--all-namespaces", "--kind", "harbor")
    assert field(told, "Endpoint URL") == f"{BASE}/api/v1/sources/harbor"
    assert field(told, "Auth Header") == f"Bearer {token}"
    assert (
        "Default" in field(told, "Payload Format")
        and "PUSH_ARTIFACT" in told
        and "SCANNING_COMPLETED" in told
    )

    token, told = create(tmp_path, database, "zot", "--all-namespaces", "--kind", "zot")
    config = json.loads(told[told.index("{") :])
    (sink,) = config["extensions"]["events"]["sinks"]
    assert config["extensions"]["events"]["enable"] is True
    assert sink == {
        "type": "http",
        "address": f"{BASE}/api/v1/sources/cloudevents",
        "timeout": "5s",
        "credentials": {"token": token},
    }

    token, told = create(tmp_path, database, "ce", "--all-namespaces", "--kind", "cloudevents")
    assert field(told, "URL") == f"POST {BASE}/api/v1/sources/cloudevents"
    assert field(told, "Authorization") == f"Bearer {token}"

    token, told = create(tmp_path, database, "hub", "--namespace", "acme", "--kind", "dockerhub")
    assert field(told, "Destination URL") == f"{BASE}/api/v1/sources/dockerhub/{token}"


async def test_github_prints_the_payload_url_and_a_secret_stored_sealed(
    tmp_path: Path, database: Database
) -> None:
    token, told = create(tmp_path, database, "ghcr", "--namespace", "acme", "--kind", "github")
    assert told.startswith("source ghcr (token 1) may post to namespace acme only")
    assert field(told, "Payload URL") == f"{BASE}/api/v1/sources/github/1"
    assert field(told, "Content type") == "application/json"
    assert "Packages" in field(told, "Which events")
    secret = field(told, "Secret")
    assert re.fullmatch(r"[0-9a-f]{64}", secret) and token not in told

    sealed = await stored_secret(database, 1)
    assert sealed is not None and sealed.startswith("enc:v1:") and secret not in sealed
    async with database.read() as session:
        source = await session.scalar(select(ApiToken).where(ApiToken.id == 1))
    assert source is not None and open_webhook_secret(source, SecretBox(KEY)) == secret
    create(tmp_path, database, "registry", "--all-namespaces")
    assert await stored_secret(database, 2) is None  # other kinds have no secret


async def test_github_secret_replaces_or_sets_the_secret(tmp_path: Path, database: Database) -> None:
    _, told = create(tmp_path, database, "ghcr", "--namespace", "acme", "--kind", "github")
    first = field(told, "Secret")
    rotated = regnotify(tmp_path, database, "source", "github-secret", "1")
    assert rotated.returncode == 0, rotated.stderr
    second = rotated.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{64}", second) and second != first
    assert f"{BASE}/api/v1/sources/github/1" in rotated.stderr and "shown once" in rotated.stderr
    async with database.read() as session:
        source = await session.scalar(select(ApiToken).where(ApiToken.id == 1))
    assert source is not None and open_webhook_secret(source, SecretBox(KEY)) == second

    given = "a-secret-github-already-has"
    chosen = regnotify(
        tmp_path, database, "source", "github-secret", "1", "--secret-stdin", stdin=given + "\n"
    )
    assert chosen.returncode == 0 and chosen.stdout == "" and "set" in chosen.stderr, chosen.stderr
    async with database.read() as session:
        source = await session.scalar(select(ApiToken).where(ApiToken.id == 1))
    assert source is not None and open_webhook_secret(source, SecretBox(KEY)) == given


def test_mistakes_are_messages(tmp_path: Path, database: Database) -> None:
    create(tmp_path, database, "ghcr", "--namespace", "acme", "--kind", "github")
    create(tmp_path, database, "old", "--namespace", "acme", "--kind", "github")
    assert regnotify(tmp_path, database, "token", "revoke", "2").returncode == 0  # its secret goes too
    for args, stdin, fragment in (
        (("source", "github-secret", "7"), None, "no live source 7"),
        (("source", "github-secret", "2"), None, "no live source 2"),
        (("source", "github-secret", "1", "--secret-stdin"), "short\n", "16 to 255 characters"),
        (("source", "create", "x", "--all-namespaces", "--kind", "quay"), None, "'quay' is not one of"),
    ):
        refused = regnotify(tmp_path, database, *args, stdin=stdin)
        assert refused.returncode != 0 and "Traceback" not in refused.stderr, refused.stderr
        assert fragment in refused.stderr, refused.stderr
