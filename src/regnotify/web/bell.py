"""The bell's routes: the panel as an HTML fragment (the page's script refreshes it every 30 seconds),
and dismissing one notice or all of them. Without JavaScript the forms work as plain posts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from regnotify.notifications.notices import dismiss, dismiss_all
from regnotify.web.errors import PageError
from regnotify.web.rendering import SECURITY_HEADERS, bell
from regnotify.web.signin import safe_next
from regnotify.web.templating import templates
from regnotify.web.viewer import CheckedPost, ServicesDep, optional_viewer

router = APIRouter(include_in_schema=False)


def _answer(request: Request, back: str) -> Response:
    """Scripts (``X-Requested-With: fetch``) get a 204; plain forms go back to the page they came from."""
    if request.headers.get("x-requested-with") == "fetch":
        return Response(status_code=204)
    return RedirectResponse(safe_next(back), status_code=303)


@router.get("/notices/panel", response_class=HTMLResponse)
async def panel(request: Request, svc: ServicesDep) -> Response:
    viewer = await optional_viewer(request, svc)
    if viewer is None:
        return Response("sign in again", status_code=401, media_type="text/plain")
    count, notices = await bell(svc, viewer)
    response = templates.TemplateResponse(
        request,
        "bell_panel.html",
        {
            "viewer": viewer,
            "notice_count": count,
            "notices": notices,
            "back": request.query_params.get("back", "/"),
        },
    )
    response.headers.update(SECURITY_HEADERS)
    response.headers["X-Notice-Count"] = str(count)
    return response


@router.post("/notices/dismiss-all")
async def dismiss_everything(
    request: Request, viewer: CheckedPost, svc: ServicesDep, back: Annotated[str, Form(max_length=2000)] = "/"
) -> Response:
    async with svc.db.write() as session:
        await dismiss_all(session, viewer.user)
    return _answer(request, back)


@router.post("/notices/{notice_id}/dismiss")
async def dismiss_one(
    request: Request,
    notice_id: str,
    viewer: CheckedPost,
    svc: ServicesDep,
    back: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    async with svc.db.write() as session:
        if not await dismiss(session, viewer.user, notice_id):
            raise PageError(404, "You have no such notice.")
    return _answer(request, back)
