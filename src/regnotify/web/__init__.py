"""Server-rendered pages (Jinja2, autoescaped), one stylesheet and one script served from ``/static``."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).parent / "static"


def install_web(app: FastAPI) -> None:
    """Mount the pages, their static files and their error pages on ``app``."""
    from regnotify.web import (
        bell,
        email_confirmation,
        email_status,
        history,
        notification_pages,
        repositories,
        signin,
    )
    from regnotify.web.error_pages import install_page_error_handlers

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    install_page_error_handlers(app)
    # Order matters: the repository page's path swallows everything below /repository/, so the
    # more specific routes come first.
    for module in (signin, bell, email_confirmation, notification_pages, history, email_status, repositories):
        app.include_router(module.router)
