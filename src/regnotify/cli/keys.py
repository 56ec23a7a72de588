"""``regnotify secret-key``: make a new key, and reseal stored secrets with the current one."""

from __future__ import annotations

import asyncio

import typer
from cryptography.fernet import Fernet

from regnotify.app import NotMigrated, open_database
from regnotify.config import Settings
from regnotify.notifications.key_rotation import KeysMissing, Resealed, reseal_all
from regnotify.runtime.crypto import load_secret_key, secret_box, split_keys

keys_app = typer.Typer(help="The key that encrypts secrets at rest, and rotating it.", no_args_is_help=True)


@keys_app.command("generate")
def generate() -> None:
    """Print a new key. Put it first in REGNOTIFY_SECRET_KEY (or DATA_DIR/secret.key), keep the old one
    after it, restart every process, then run `regnotify secret-key rotate`."""
    typer.echo(Fernet.generate_key().decode("ascii"))


@keys_app.command("rotate")
def rotate() -> None:
    """Reseal every stored secret with the first configured key; then the other keys can be dropped."""
    settings = Settings()
    box = secret_box(settings)

    async def run() -> Resealed:
        db = await open_database(settings)
        try:
            async with db.write() as session:
                return await reseal_all(session, box)
        finally:
            await db.dispose()

    try:
        report = asyncio.run(run())
    except (KeysMissing, NotMigrated) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    configured = len(split_keys(load_secret_key(settings)))
    typer.echo(
        f"resealed {report.values} secret(s) in {report.notifications} notification(s) "
        f"and {report.sources} source(s) with the first key"
    )
    if configured > 1:
        typer.echo("every secret now opens with the first key alone: the others can be removed")
