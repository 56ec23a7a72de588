"""The repository list (with search) and a repository's page: Overview, Builds and, for admins, Settings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from regnotify.accounts import Role
from regnotify.accounts.visible import readable_repositories
from regnotify.db.models import Notification
from regnotify.ingest import repository_ref
from regnotify.notifications.activity import event_tags, recent_builds, recent_events
from regnotify.notifications.history import latest_deliveries
from regnotify.notifications.registry import list_notifications, notification_view
from regnotify.runtime.crypto import SecretBox
from regnotify.web.access import repository_page
from regnotify.web.describe import (
    event_summary,
    event_title,
    filter_text,
    method_title,
    notification_label,
    target_text,
)
from regnotify.web.errors import PageError
from regnotify.web.notice_text import repository_href
from regnotify.web.rendering import render
from regnotify.web.viewer import ServicesDep, SignedIn

router = APIRouter(include_in_schema=False)
TABS = ("overview", "builds", "settings")
MAX_SEARCH = 255


@router.get("/repositories", response_class=HTMLResponse)
async def repositories(request: Request, viewer: SignedIn, svc: ServicesDep, q: str = "") -> HTMLResponse:
    search = q.strip()[:MAX_SEARCH]
    async with svc.db.read() as session:
        listed = await readable_repositories(session, viewer.user, search)
    return await render(request, "repositories.html", viewer, {"repositories": listed, "search": search})


def notification_rows(notifications: list[Notification], latest: dict, box: SecretBox) -> list[dict]:  # type: ignore[type-arg]
    rows = []
    for notification in notifications:
        view = notification_view(notification, box)
        rows.append(
            {
                "uuid": notification.uuid,
                "title": notification_label(notification.title, notification.method, notification.event),
                "event": event_title(notification.event),
                "filter": filter_text(notification.event_config),
                "method": method_title(notification.method),
                "target": target_text(notification.method, view["config"]),
                "enabled": notification.enabled,
                "failures": notification.number_of_failures,
                "last": latest.get(notification.id),
            }
        )
    return rows


@router.get("/repository/{repository:path}/build")
async def build_link(repository: str, current: str = "") -> RedirectResponse:
    """Where event payloads' build ``homepage`` points (Quay's path): the Builds tab, at that build.

    A path with one component is a repository named ``…/build`` instead: its own page.
    """
    if "/" not in repository:
        return RedirectResponse(repository_href(f"{repository}/build"), status_code=303)
    anchor = f"#build-{current}" if current else ""
    return RedirectResponse(repository_href(repository, tab="builds") + anchor, status_code=303)


@router.get("/repository/{repository:path}", response_class=HTMLResponse)
async def repository_page_view(
    request: Request,
    repository: str,
    viewer: SignedIn,
    svc: ServicesDep,
    tab: str = "overview",
    tag: str = "",
) -> HTMLResponse:
    if tab not in TABS:
        raise PageError(404, f"There is no {tab!r} tab; use overview, builds or settings.")
    need = Role.ADMIN if tab == "settings" else Role.READ
    context: dict = {"tab": tab}  # type: ignore[type-arg]
    async with svc.db.read() as session:
        repo, role = await repository_page(session, viewer, repository, need)
        if tab == "overview":
            events = await recent_events(session, repo, tag=tag[:MAX_SEARCH] or None)
            context["events"] = [
                {
                    "event": event,
                    "title": event_title(event.kind),
                    "summary": event_summary(event.kind, event.payload),
                    "tags": event_tags(event),
                }
                for event in events
            ]
            context["tag"] = tag
        elif tab == "builds":
            context["builds"] = await recent_builds(session, repo)
        else:
            notifications = await list_notifications(session, repo)
            latest = await latest_deliveries(session, [n.id for n in notifications])
            context["notifications"] = notification_rows(notifications, latest, svc.box)
    ref = repository_ref(repo, svc.settings)
    context.update(repository=repo, role=role, is_admin=role >= Role.ADMIN, ref=ref)
    return await render(request, "repository.html", viewer, context)
