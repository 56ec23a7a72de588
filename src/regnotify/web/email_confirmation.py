"""The page behind the link in a verification mail: it says what is asked, and a button confirms."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from regnotify.api.context import Services, services
from regnotify.email_authorization import confirm, pending_by_code
from regnotify.web.templating import templates

router = APIRouter(include_in_schema=False)
ServicesDep = Annotated[Services, Depends(services)]
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "Referrer-Policy": "no-referrer",  # the code is in the URL: never pass it on
    "X-Frame-Options": "DENY",
}


def _page(request: Request, status: int, **context: object) -> HTMLResponse:
    response = templates.TemplateResponse(request, "email_confirmation.html", context, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    return response


@router.get("/authrepoemail", response_class=HTMLResponse)
async def show(request: Request, svc: ServicesDep, code: str = "") -> HTMLResponse:
    """Looking does not confirm: link scanners that open the page change nothing."""
    async with svc.db.read() as session:
        found = await pending_by_code(session, code)
    if found is None:
        return _page(request, 400, state="invalid")
    record, repository = found
    return _page(request, 200, state="ask", email=record.email, repository=repository.full_name, code=code)


@router.post("/authrepoemail", response_class=HTMLResponse)
async def accept(
    request: Request, svc: ServicesDep, code: Annotated[str, Form(max_length=200)] = ""
) -> HTMLResponse:
    async with svc.db.write() as session:
        found = await confirm(session, code)
    if found is None:
        return _page(request, 400, state="invalid")
    record, repository = found
    return _page(request, 200, state="confirmed", email=record.email, repository=repository.full_name)
