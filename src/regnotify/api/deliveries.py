"""The delivery log of a notification: list deliveries, show one with its attempts, redeliver."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import Role
from regnotify.api.auth import CurrentPrincipal, Principal, mark_token_used, repository_for
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.db.models import Delivery, DeliveryAttempt, Event, Notification
from regnotify.notifications import history
from regnotify.notifications.registry import find_notification

router = APIRouter(tags=["deliveries"])
ServicesDep = Annotated[Services, Depends(services)]
BASE = "/repository/{repository:path}/notification/{uuid}/deliveries"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def delivery_view(delivery: Delivery, event: Event) -> dict[str, Any]:
    return {
        "id": delivery.uuid,
        "event_id": event.uuid,
        "event": event.kind,
        "state": delivery.state,
        "is_test": delivery.is_test,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "created": _iso(delivery.created_at),
        "next_attempt_at": _iso(delivery.next_attempt_at) if delivery.state == "pending" else None,
        "finished": _iso(delivery.finished_at),
    }


def attempt_view(attempt: DeliveryAttempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "started": _iso(attempt.started_at),
        "duration_ms": attempt.duration_ms,
        "outcome": attempt.outcome,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "response_excerpt": attempt.response_excerpt,
        "request": attempt.request,
    }


async def _notification(
    session: AsyncSession, principal: Principal, repository: str, uuid: str
) -> Notification:
    repo = await repository_for(session, principal, repository, Role.ADMIN)
    notification = await find_notification(session, repo, uuid)
    if notification is None:
        raise ApiError(404, f"no notification {uuid} in repository {repository}")
    return notification


async def _delivery(
    session: AsyncSession, notification: Notification, delivery_id: str
) -> tuple[Delivery, Event]:
    found = await history.find_delivery(session, notification, delivery_id)
    if found is None:
        raise ApiError(404, f"no delivery {delivery_id} for notification {notification.uuid}")
    return found


@router.get(BASE)
async def list_deliveries(
    repository: str,
    uuid: str,
    principal: CurrentPrincipal,
    svc: ServicesDep,
    state: Literal["pending", "succeeded", "failed", "cancelled"] | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Deliveries of this notification, newest first, optionally of one state."""
    async with svc.db.read() as session:
        notification = await _notification(session, principal, repository, uuid)
        rows, more = await history.deliveries_page(session, notification, state=state, page=page, limit=limit)
        return {
            "deliveries": [delivery_view(d, e) for d, e in rows],
            "page": page,
            "has_additional": more,
        }


@router.get(BASE + "/{delivery_id}")
async def get_delivery(
    repository: str, uuid: str, delivery_id: str, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """One delivery: the event payload it carries and every attempt, oldest first."""
    async with svc.db.read() as session:
        notification = await _notification(session, principal, repository, uuid)
        delivery, event = await _delivery(session, notification, delivery_id)
        attempts = await history.attempts_of(session, delivery)
        return {
            **delivery_view(delivery, event),
            "payload": event.payload,
            "attempt_log": [attempt_view(a) for a in attempts],
        }


@router.post(BASE + "/{delivery_id}/redeliver", status_code=202)
async def redeliver(
    repository: str, uuid: str, delivery_id: str, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """Send this delivery again, with the same delivery id, as soon as a worker is free."""
    async with svc.db.write() as session:
        notification = await _notification(session, principal, repository, uuid)
        delivery, event = await _delivery(session, notification, delivery_id)
        try:
            await history.redeliver(session, delivery)
        except history.AlreadyQueued as queued:
            raise ApiError(409, str(queued)) from None
        await mark_token_used(session, principal)
        return delivery_view(delivery, event)
