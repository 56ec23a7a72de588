"""Page errors: raised by page routes, answered with the error page (or a redirect to sign in); a
value the database refused gets the error page too."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.exc import DataError

from regnotify.api.errors import data_error_detail


class PageError(Exception):
    """Answer with the error page: ``status`` and a sentence saying what happened."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class SignInRequired(Exception):
    """Nobody is signed in: send the browser to ``location`` (the sign-in page)."""

    def __init__(self, location: str) -> None:
        super().__init__(location)
        self.location = location


TITLES = {400: "Bad request", 403: "Not allowed", 404: "Not found", 409: "Conflict", 429: "Too many attempts"}


def install_page_error_handlers(app: FastAPI) -> None:
    from regnotify.web.rendering import render_error  # the error page uses the shared layout

    @app.exception_handler(PageError)
    async def _page_error(request: Request, exc: PageError) -> HTMLResponse:
        return await render_error(request, exc.status, TITLES.get(exc.status, "Error"), exc.message)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(exc.location, status_code=303)

    api_data_error = app.exception_handlers.get(DataError)  # the API's answer, in Quay's shape

    @app.exception_handler(DataError)
    async def _data_error(request: Request, exc: DataError) -> Response:
        """A value the database refused (PostgreSQL takes no NUL characters): on a page, the error
        page with a 400, not a 500."""
        if api_data_error is not None and request.url.path.startswith("/api/"):
            return await api_data_error(request, exc)  # type: ignore[no-any-return]
        detail = data_error_detail(exc)
        return await render_error(request, 400, TITLES[400], f"{detail[0].upper()}{detail[1:]}.")
