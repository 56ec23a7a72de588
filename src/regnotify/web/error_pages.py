"""Answering page errors with the error page in the shared layout: ``PageError`` with its status,
``SignInRequired`` with a redirect to sign in, and a value the database refused with a 400."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import cast

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError

from regnotify.api.errors import data_error_detail
from regnotify.web.errors import TITLES, PageError, SignInRequired
from regnotify.web.rendering import render_error


def install_page_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> HTMLResponse:
        return await render_error(request, exc.status, TITLES.get(exc.status, "Error"), exc.message)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    # the API's answer, in Quay's shape: a coroutine function (api/errors.py)
    api_data_error = cast(
        "Callable[[Request, Exception], Awaitable[Response]] | None", app.exception_handlers.get(DataError)
    )

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> Response:
        """A value the database refused (PostgreSQL takes no NUL characters): on a page, the error
        page with a 400, not a 500."""
        if api_data_error is not None and request.url.path.startswith("/api/"):
            return await api_data_error(request, exc)
        detail = data_error_detail(exc)
        return await render_error(request, 400, TITLES[400], f"{detail[0].upper()}{detail[1:]}.")
