"""The embedded default's files are the owner's alone, whatever the umask: the data directory 0700;
the database, its -wal and -shm, the writer lock files, the generated secret key 0600; the maildir
0700 with its messages 0600. A data directory left more open by an older version is tightened."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from regnotify.app import create_app
from regnotify.config import Settings
from regnotify.outbound.mail import MaildirMailClient

REGNOTIFY = [sys.executable, "-m", "regnotify.cli"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def modes(directory: Path) -> dict[str, int]:
    """Every file and directory under ``directory`` (itself as "."), with its permission bits."""
    found = {".": mode(directory)}
    for path in directory.rglob("*"):
        found[str(path.relative_to(directory))] = mode(path)
    return found


@contextmanager
def umask(value: int) -> Iterator[None]:
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


def migrate(env_dir: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGNOTIFY_")}
    env["REGNOTIFY_DATA_DIR"] = str(env_dir)
    env.update({f"REGNOTIFY_{name.upper()}": value for name, value in settings.items()})
    done = subprocess.run(
        [*REGNOTIFY, "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=lambda: os.umask(0o022),
    )
    assert done.returncode == 0, done.stderr
    return done


def test_migrate_makes_a_private_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "home" / "data"
    migrate(data)
    assert modes(data) == {".": 0o700, "regnotify.db": 0o600}
    assert mode(data.parent) == 0o755  # the parents it had to make are ordinary directories


async def running_app_files(settings: Settings) -> dict[str, int]:
    """Start the app (default storage, generated key), write, send a mail; the modes meanwhile."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.services.db.write() as session:
            await session.execute(text("CREATE TABLE IF NOT EXISTS scratch (x INTEGER)"))
        await MaildirMailClient(settings).send(
            to="ops@example.com", subject="hello", text="hi", html="<p>hi</p>", headers={}
        )
        return modes(settings.data_dir)


async def test_the_running_app_keeps_its_files_private(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with umask(0o022):
        found = await running_app_files(Settings(data_dir=data))
    (message,) = (data / "maildir" / "new").iterdir()
    expected = {
        ".": 0o700,
        "regnotify.db": 0o600,
        "regnotify.db-wal": 0o600,
        "regnotify.db-shm": 0o600,
        "regnotify.db-writers.lock": 0o600,
        "regnotify.db-writers.wait": 0o600,
        "secret.key": 0o600,
        "maildir": 0o700,
        "maildir/cur": 0o700,
        "maildir/new": 0o700,
        "maildir/tmp": 0o700,
        f"maildir/new/{message.name}": 0o600,
    }
    assert found == expected


async def test_an_older_open_data_dir_is_tightened(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    data = tmp_path / "data"
    with umask(0o022):  # as an older version left it: 0755, files 0644
        data.mkdir(mode=0o755)
        old = sqlite3.connect(data / "regnotify.db")
        old.execute("PRAGMA journal_mode=WAL")
        old.execute("CREATE TABLE kept (x INTEGER)")
        old.commit()
        (data / "secret.key").write_text(Fernet.generate_key().decode() + "\n")
        (data / "regnotify.db-writers.lock").touch()
        assert mode(data) == 0o755 and mode(data / "regnotify.db-wal") == 0o644
        caplog.set_level(logging.INFO)
        try:
            found = await running_app_files(Settings(data_dir=data))
        finally:
            old.close()
    assert {name: bits for name, bits in found.items() if bits & 0o077} == {}
    assert found["."] == 0o700 and found["regnotify.db"] == found["secret.key"] == 0o600
    assert any(
        str(data) in record.getMessage() and "0755" in record.getMessage() for record in caplog.records
    )


def test_a_shared_directory_is_not_regnotifys_to_tighten(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    with umask(0o022):
        shared.mkdir(mode=0o755)
        (shared / "notes.txt").write_text("someone else's")
    migrate(tmp_path / "data", database_url=f"sqlite:///{shared / 'custom.db'}")
    assert mode(shared) == 0o755 and mode(shared / "notes.txt") == 0o644
    assert mode(shared / "custom.db") == 0o600
