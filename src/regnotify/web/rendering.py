"""Rendering a page: the shared layout's data (viewer, CSRF token, the bell) and the security headers."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from regnotify.api.context import Services
from regnotify.notifications.notices import count_undismissed, undismissed
from regnotify.web.notice_text import NoticeView, notice_view
from regnotify.web.templating import templates
from regnotify.web.viewer import Viewer, optional_viewer

BELL_LIMIT = 20

# Scripts and styles only from this app (no inline code, nothing from elsewhere); no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def services_of(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


async def bell(svc: Services, viewer: Viewer) -> tuple[int, list[NoticeView]]:
    """The viewer's undismissed notice count and the newest of them, as the bell shows them."""
    async with svc.db.read() as session:
        count = await count_undismissed(session, viewer.user)
        items = await undismissed(session, viewer.user, BELL_LIMIT) if count else []
    return count, [notice_view(item) for item in items]


async def render(
    request: Request,
    template: str,
    viewer: Viewer | None,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template`` inside the shared layout, with the viewer's bell filled in."""
    query = request.url.query
    back = request.url.path + (f"?{query}" if query else "")
    page: dict[str, Any] = {"viewer": viewer, "notice_count": 0, "notices": [], "back": back}
    if viewer is not None:
        page["notice_count"], page["notices"] = await bell(services_of(request), viewer)
    page.update(context or {})
    response = templates.TemplateResponse(request, template, page, status_code=status)
    response.headers.update(SECURITY_HEADERS)
    response.headers.update(headers or {})
    return response


async def render_error(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    viewer = await optional_viewer(request, services_of(request))
    return await render(request, "error.html", viewer, {"title": title, "message": message}, status=status)
