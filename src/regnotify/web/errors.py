"""Page errors: raised by page routes, answered with the error page (or a redirect to sign in)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response


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
