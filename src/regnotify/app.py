"""The FastAPI application: API routes, error handling, body limit, and the lifespan that opens storage."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from regnotify import __version__
from regnotify.api import (
    BodyLimitMiddleware,
    RefuseNul,
    Services,
    health,
    install_error_handlers,
    metrics,
    router,
)
from regnotify.api.docs_pages import install_docs
from regnotify.config import Settings
from regnotify.db import Database, migrate, migration_is_current
from regnotify.jobs.running import background_worker
from regnotify.outbound.addresses import Resolver, system_resolver
from regnotify.outbound.mail import mail_client
from regnotify.runtime.crypto import secret_box
from regnotify.runtime.loop_monitor import LoopMonitor
from regnotify.web import install_web

log = logging.getLogger(__name__)


class NotMigrated(RuntimeError):
    pass


async def open_database(settings: Settings) -> Database:
    """The database, migrated if it is the embedded default; PostgreSQL must be migrated on purpose."""
    db = Database(settings.sqlalchemy_url, sqlite_busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    if settings.is_embedded:
        await migrate(db.engine)
    elif not await migration_is_current(db.engine):
        await db.dispose()
        raise NotMigrated("the database schema is not current: run `regnotify migrate` first")
    return db


def create_app(
    settings: Settings | None = None,
    *,
    database: Database | None = None,
    resolver: Resolver = system_resolver,
    worker: bool = False,
) -> FastAPI:
    """The application. Pass ``database`` to share one already open (tests); else it opens its own.

    ``worker=True`` (``serve``) runs a delivery worker in the same process for its lifetime.
    """
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = database or await open_database(settings)
        box = secret_box(settings)
        app.state.services = Services(settings, db, box, resolver, mail_client(settings))
        try:
            async with LoopMonitor(settings.loop_lag_warning_ms):
                if worker:
                    async with background_worker(db, settings, box, resolver):
                        yield
                else:
                    yield
        finally:
            if database is None:
                await db.dispose()

    app = FastAPI(
        title="regnotify",
        version=__version__,
        description="Quay-style repository notifications for any container registry.",
        lifespan=lifespan,
        # FastAPI's docs pages load scripts from a CDN: ours (install_docs) serve them from here.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_middleware(RefuseNul)  # NUL characters in API input: a 400 naming the field
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.include_router(router)
    app.include_router(metrics.router)
    install_docs(app)
    install_web(app)
    app.include_router(health.router)  # /readyz

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
