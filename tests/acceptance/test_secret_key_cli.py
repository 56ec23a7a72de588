"""``regnotify secret-key generate|rotate`` as an operator runs them, against the test database."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import select

from regnotify import accounts
from regnotify.db import Database
from regnotify.db.models import Notification
from regnotify.methods import get_method
from regnotify.runtime.crypto import SecretBox

WEBHOOK = {"url": "https://hooks.example.com/x", "secret": "whsec_" + "B" * 32}


def regnotify(tmp_path: Path, database: Database, key: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
    env.update(
        REGNOTIFY_DATA_DIR=str(tmp_path / "data"),
        REGNOTIFY_DATABASE_URL=database.url,
        REGNOTIFY_SECRET_KEY=key,
    )
    return subprocess.run(
        [sys.executable, "-m", "regnotify.cli", *args], env=env, capture_output=True, text=True, timeout=60
    )


async def test_rotate_moves_every_secret_to_a_generated_key(tmp_path: Path, database: Database) -> None:
    old = Fernet.generate_key().decode()
    generated = regnotify(tmp_path, database, old, "secret-key", "generate")
    assert generated.returncode == 0, generated.stderr
    new = generated.stdout.strip()
    Fernet(new)  # a usable key
    async with database.write() as session:
        await accounts.create_user(session, "acme")
        repository = await accounts.create_repository(session, "acme/app")
        session.add(
            Notification(
                uuid=str(uuid.uuid4()),
                repository_id=repository.id,
                event="repo_push",
                method="webhook",
                config=get_method("webhook").seal(WEBHOOK, SecretBox(old)),
                event_config={},
            )
        )

    refused = regnotify(tmp_path, database, new, "secret-key", "rotate")  # the old key is not given
    assert refused.returncode == 1
    assert "add the key they were sealed with" in refused.stderr
    assert old not in refused.stderr + refused.stdout and WEBHOOK["secret"] not in refused.stderr

    rotated = regnotify(tmp_path, database, f"{new},{old}", "secret-key", "rotate")
    assert rotated.returncode == 0, rotated.stderr
    assert "resealed 2 secret(s) in 1 notification(s)" in rotated.stdout
    assert "the others can be removed" in rotated.stdout
    async with database.read() as session:
        (stored,) = await session.scalars(select(Notification))
    assert get_method("webhook").unseal(stored.config, SecretBox(new)) == WEBHOOK
