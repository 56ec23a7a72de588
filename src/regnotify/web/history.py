"""A notification's History: deliveries newest first with a 24-hour outcome chart, one delivery's
payload, request and attempts, and Redeliver."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import Role
from regnotify.api.context import Services
from regnotify.db.models import Delivery, Event, Notification, Repository
from regnotify.methods import get_method
from regnotify.notifications.history import (
    AlreadyQueued,
    attempts_of,
    deliveries_page,
    find_delivery,
    held_deliveries,
    held_reason,
    hourly_outcomes,
    redeliver,
)
from regnotify.notifications.registry import notification_view
from regnotify.web.access import notification_in, repository_page
from regnotify.web.chart import outcome_chart
from regnotify.web.describe import event_title, filter_text, method_title, notification_label, target_text
from regnotify.web.errors import PageError
from regnotify.web.notice_text import repository_href
from regnotify.web.rendering import render
from regnotify.web.viewer import CheckedPost, ServicesDep, SignedIn, Viewer

router = APIRouter(include_in_schema=False)
BASE = "/repository/{repository:path}/notification/{uuid}"
PAGE_SIZE = 20
MAX_PAGE = 10_000
STATES = ("pending", "succeeded", "failed", "cancelled")


def history_href(repository: str, uuid: str) -> str:
    return f"{repository_href(repository)}/notification/{uuid}/history"


@router.get(BASE + "/history", response_class=HTMLResponse)
async def history(
    request: Request,
    repository: str,
    uuid: str,
    viewer: SignedIn,
    svc: ServicesDep,
    page: int = 1,
    state: str = "",
    tested: str = "",
) -> HTMLResponse:
    page = min(max(page, 1), MAX_PAGE)
    if state and state not in STATES:
        raise PageError(400, f"Unknown state {state[:40]!r}: use one of {', '.join(STATES)}.")
    async with svc.db.read() as session:
        repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
        notification = await notification_in(session, repo, uuid)
        rows, more = await deliveries_page(
            session, notification, state=state or None, page=page, limit=PAGE_SIZE
        )
        chart = outcome_chart(await hourly_outcomes(session, notification))
        held = await held_deliveries(session, notification)
    view = notification_view(notification, svc.box)
    context = {
        "repository": repo.full_name,
        "notification": notification,
        "title": notification_label(notification.title, notification.method, notification.event),
        "event": event_title(notification.event),
        "filter": filter_text(notification.event_config),
        "method": method_title(notification.method),
        "target": target_text(notification.method, view["config"]),
        "rows": rows,
        "page": page,
        "more": more,
        "state": state,
        "tested": tested,
        "chart": chart,
        "any_pending": any(delivery.state == "pending" for delivery, _ in rows),
        "history_href": history_href(repo.full_name, uuid),
        "held": held,
        "held_reason": held_reason,
        "destination": destination_name(notification, svc) if held else None,
        "slow_after": svc.settings.destination_slow_after,
    }
    return await render(request, "history.html", viewer, context)


def destination_name(notification: Notification, svc: Services) -> str | None:
    """``host:port`` the notification sends to (no path, no secret), for the held-back notice."""
    method = get_method(notification.method)
    try:
        return method.destination(method.unseal(notification.config, svc.box), svc.settings)
    except ValueError:
        return None


async def _delivery_in(
    session: AsyncSession, viewer: Viewer, repository: str, uuid: str, delivery_id: str
) -> tuple[Repository, Notification, Delivery, Event]:
    """The delivery of this notification of this repository, for its admins; else the 403/404 page."""
    repo, _ = await repository_page(session, viewer, repository, Role.ADMIN)
    notification = await notification_in(session, repo, uuid)
    found = await find_delivery(session, notification, delivery_id)
    if found is None:
        raise PageError(404, f"Notification {uuid} has no delivery {delivery_id}.")
    return repo, notification, found[0], found[1]


@router.get(BASE + "/deliveries/{delivery_id}", response_class=HTMLResponse)
async def delivery_page(
    request: Request, repository: str, uuid: str, delivery_id: str, viewer: SignedIn, svc: ServicesDep
) -> HTMLResponse:
    async with svc.db.read() as session:
        found = await _delivery_in(session, viewer, repository, uuid, delivery_id)
        repo, notification, delivery, event = found
        attempts = await attempts_of(session, delivery)
    sent = next((attempt.request for attempt in reversed(attempts) if attempt.request), None)
    context = {
        "repository": repo.full_name,
        "notification": notification,
        "title": notification_label(notification.title, notification.method, notification.event),
        "delivery": delivery,
        "event": event,
        "attempts": attempts,
        "sent": sent,
        "history_href": history_href(repo.full_name, uuid),
    }
    return await render(request, "delivery.html", viewer, context)


@router.post(BASE + "/deliveries/{delivery_id}/redeliver")
async def redeliver_one(
    repository: str, uuid: str, delivery_id: str, viewer: CheckedPost, svc: ServicesDep
) -> RedirectResponse:
    """Send a finished delivery again, with the same delivery id, as soon as a worker is free."""
    async with svc.db.write() as session:
        repo, _, delivery, _ = await _delivery_in(session, viewer, repository, uuid, delivery_id)
        try:
            await redeliver(session, delivery)
        except AlreadyQueued as exc:
            raise PageError(409, f"{exc}.") from None
    return RedirectResponse(f"{history_href(repo.full_name, uuid)}?tested={delivery_id}", status_code=303)
