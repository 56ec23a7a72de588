"""The ``regnotify`` command: ``serve``, ``worker`` and ``migrate``, with the administration
commands (``admin``), the secret-key commands (``keys``) and the API-client commands (``sources``)
mounted under it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Annotated, Any, TypeVar

import typer

from regnotify.app import NotMigrated, open_database
from regnotify.cli.admin import (
    fail,
    org_app,
    permission_app,
    repo_app,
    source_app,
    team_app,
    token_app,
    user_app,
)
from regnotify.cli.keys import keys_app
from regnotify.cli.sources import build_app, emit, vulns_app
from regnotify.config import Settings
from regnotify.runtime.heap import freeze_startup_objects
from regnotify.runtime.logs import configure_logging, uvicorn_log_config

T = TypeVar("T")

app = typer.Typer(
    help="Quay-style repository notifications for any container registry.", no_args_is_help=True
)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (REGNOTIFY_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (REGNOTIFY_PORT)")] = None,
    worker: Annotated[
        bool,
        typer.Option(
            "--worker/--no-worker",
            help="Run a delivery worker in this process too; --no-worker when workers run on their own",
        ),
    ] = True,
) -> None:
    """Run the API (and, unless --no-worker, one delivery worker) on one port."""
    import uvicorn

    from regnotify.app import create_app

    overrides = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings)

    async def storage_ready() -> None:
        await (await open_database(settings)).dispose()

    try:
        asyncio.run(storage_ready())  # migrates the embedded default; refuses an old PostgreSQL schema
    except NotMigrated as exc:
        fail(str(exc))
    storage = "SQLite at " + str(settings.data_dir) if settings.is_embedded else "PostgreSQL"
    typer.echo(
        f"regnotify on {settings.base_url} (storage: {storage})\n"
        f"  pages for a browser: {settings.base_url}/ (sign in as a user made with "
        "regnotify user create NAME --password-stdin)\n"
        f"  API docs: {settings.base_url}/docs\n"
        f"  a registry's notifications endpoint: {settings.base_url}/api/v1/registry/events "
        "(token: regnotify source create NAME --namespace NS)\n"
        f"  events from CI jobs: POST {settings.base_url}/api/v1/repository/<namespace>/<name>/events"
    )
    options = server_options(settings)
    application = create_app(settings, worker=worker)
    freeze_startup_objects()
    uvicorn.run(application, **options)


def server_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for ``serve``. Forwarded headers (X-Forwarded-For, -Proto) count only on
    connections from ``trusted_proxies``; with none (the default) uvicorn ignores them, so the
    client address, which the sign-in throttle counts by, is the connection's own."""
    trusted = list(settings.trusted_proxies)
    return {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "log_config": uvicorn_log_config(settings),
        "proxy_headers": bool(trusted),
        "forwarded_allow_ips": trusted,
    }


@app.command()
def worker(
    concurrency: Annotated[
        int | None, typer.Option(help="Sends in flight at once (REGNOTIFY_WORKER_CONCURRENCY)")
    ] = None,
) -> None:
    """Run a delivery worker until SIGTERM; run as many as you like beside the API processes."""
    from regnotify.jobs.running import run_until_signalled
    from regnotify.runtime.crypto import secret_box

    overrides = {"worker_concurrency": concurrency} if concurrency else {}
    settings = Settings(**overrides)  # type: ignore[arg-type]
    configure_logging(settings)

    if settings.worker_metrics_port:
        from regnotify.runtime.metrics import serve_worker_metrics

        serve_worker_metrics(settings.worker_metrics_port, settings.worker_metrics_host)

    async def run() -> None:
        from regnotify.runtime.loop_monitor import LoopMonitor

        db = await open_database(settings)
        try:
            async with LoopMonitor(settings.loop_lag_warning_ms):
                await run_until_signalled(db, settings, secret_box(settings))
        finally:
            await db.dispose()

    freeze_startup_objects()
    try:
        run_fast_loop(run())
    except NotMigrated as exc:
        fail(str(exc))


def run_fast_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop (installed with ``uvicorn[standard]``, and what ``serve`` runs on, so the
    worker inside ``serve`` and ``regnotify worker`` behave alike), else on asyncio's own loop."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(main)
    else:
        uvloop.run(main)


@app.command()
def migrate() -> None:
    """Bring the database schema to the newest revision."""
    from regnotify.db import Database
    from regnotify.db import migrate as run_migrations

    async def run() -> None:
        settings = Settings()
        db = Database(settings.sqlalchemy_url)
        try:
            await run_migrations(db.engine)
        finally:
            await db.dispose()

    asyncio.run(run())
    typer.echo("database is at the newest revision")


app.add_typer(user_app, name="user")
app.add_typer(org_app, name="org")
app.add_typer(team_app, name="team")
app.add_typer(repo_app, name="repo")
app.add_typer(permission_app, name="permission")
app.add_typer(token_app, name="token")
app.add_typer(source_app, name="source")
app.command("emit")(emit)
app.add_typer(build_app, name="build")
app.add_typer(vulns_app, name="vulns")
app.add_typer(keys_app, name="secret-key")

if __name__ == "__main__":
    app()
