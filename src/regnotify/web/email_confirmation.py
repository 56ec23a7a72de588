"""The page behind the link in a verification mail: it says what is asked, and a button confirms.

The code in the link is the only credential (no session needed); the form posts it back, so the
confirmation cannot be forged from another site without the code.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from regnotify.notifications.email_addresses import confirm, pending_by_code
from regnotify.web.rendering import render
from regnotify.web.viewer import ServicesDep

router = APIRouter(include_in_schema=False)
NO_REFERRER = {"Referrer-Policy": "no-referrer"}  # the code is in the URL: never pass it on


async def _page(request: Request, status: int, **context: object) -> HTMLResponse:
    return await render(
        request, "email_confirmation.html", None, dict(context), status=status, headers=NO_REFERRER
    )


@router.get("/authrepoemail", response_class=HTMLResponse)
async def show(request: Request, svc: ServicesDep, code: str = "") -> HTMLResponse:
    """Looking does not confirm: link scanners that open the page change nothing."""
    async with svc.db.read() as session:
        found = await pending_by_code(session, code)
    if found is None:
        return await _page(request, 400, state="invalid")
    record, repository = found
    return await _page(
        request, 200, state="ask", email=record.email, repository=repository.full_name, code=code
    )


@router.post("/authrepoemail", response_class=HTMLResponse)
async def accept(
    request: Request, svc: ServicesDep, code: Annotated[str, Form(max_length=200)] = ""
) -> HTMLResponse:
    async with svc.db.write() as session:
        found = await confirm(session, code)
    if found is None:
        return await _page(request, 400, state="invalid")
    record, repository = found
    return await _page(request, 200, state="confirmed", email=record.email, repository=repository.full_name)
