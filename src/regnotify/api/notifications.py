"""Quay's repository notification API: create, list, view, delete, reset failures, test."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from regnotify.accounts import Role
from regnotify.api.auth import CurrentPrincipal, mark_token_used, repository_for
from regnotify.api.context import Services, services
from regnotify.api.errors import TOO_DEEP, ApiError
from regnotify.notifications.registry import (
    NotificationError,
    check_room,
    delete_notification,
    find_notification,
    list_notifications,
    notification_view,
    reset_failures,
    store_notification,
    validate_notification,
)
from regnotify.notifications.testing import TestRateLimited, queue_test_delivery

router = APIRouter(tags=["notifications"])
ServicesDep = Annotated[Services, Depends(services)]
BASE = "/repository/{repository:path}/notification"


class NotificationCreate(BaseModel):
    """Quay's create body. ``config`` and ``eventConfig`` are checked against the method and event.

    As in Quay, top-level keys other than these are ignored. Quay's own automation sends the event
    filter twice, as ``eventConfig`` and as ``event_config``: ``event_config`` is used when
    ``eventConfig`` is absent, and when both are sent they must be the same."""

    model_config = ConfigDict(extra="ignore")

    event: str = Field(description="Event kind, e.g. repo_push", max_length=64)
    method: str = Field(description="Method, e.g. webhook", max_length=64)
    config: dict[str, Any] = Field(description="The method's configuration")
    eventConfig: dict[str, Any] = Field(default_factory=dict, description="The event's filter")
    event_config: dict[str, Any] | None = Field(
        default=None,
        description="The event's filter under the name Quay's automation also sends; used when "
        "eventConfig is absent, and must equal eventConfig when both are sent",
    )
    title: str | None = Field(default=None, max_length=255)

    def event_filter(self) -> dict[str, Any]:
        """The event's filter from ``eventConfig`` or ``event_config``; ApiError (400) when they differ."""
        if self.event_config is None:
            return self.eventConfig
        if "eventConfig" not in self.model_fields_set:
            return self.event_config
        if _canonical(self.eventConfig) != _canonical(self.event_config):
            raise ApiError(
                400,
                "eventConfig and event_config differ: send the event's filter once, as eventConfig "
                "(or send both with the same content)",
            )
        return self.eventConfig


def _canonical(document: dict[str, Any]) -> str:
    """A JSON document as text that tells 1, 1.0 and true apart, whatever the order of its keys."""
    try:
        return json.dumps(document, sort_keys=True, ensure_ascii=True)
    except RecursionError:
        raise ApiError(400, TOO_DEEP) from None


class NotificationView(BaseModel):
    uuid: str
    title: str | None
    event: str
    method: str
    config: dict[str, Any]
    event_config: dict[str, Any]
    number_of_failures: int
    enabled: bool
    created: str


class NotificationCreated(NotificationView):
    signing_secret: str | None = Field(
        default=None,
        description="The webhook signing secret, shown in full this once; later views mask it",
    )


class NotificationList(BaseModel):
    notifications: list[NotificationView]


class TestQueued(BaseModel):
    delivery: dict[str, str] = Field(description="The queued test delivery: its id and state")


@router.post(f"{BASE}/", status_code=201, response_model=NotificationCreated)
@router.post(BASE, status_code=201, response_model=NotificationCreated, include_in_schema=False)
async def create(
    repository: str, body: NotificationCreate, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """Validate in a read phase (the SSRF check resolves the host: no write waits on it), then store
    in a short write that checks the caller's role and the repository's cap again.

    As in Quay, unknown top-level keys are ignored; the event's filter may come as ``eventConfig``
    or, as Quay's automation also sends it, ``event_config`` (the same content when both are sent).

    400 when the repository already has ``max_notifications_per_repository`` notifications."""
    async with svc.db.read() as session:
        repo = await repository_for(session, principal, repository, Role.ADMIN)
        try:
            await check_room(session, repo, svc.settings)  # before any look-up, when it is full
        except NotificationError as exc:
            raise ApiError(400, str(exc)) from None
    try:
        draft = await validate_notification(
            svc.db.read,
            repo,
            event=body.event,
            method=body.method,
            config=body.config,
            event_config=body.event_filter(),
            title=body.title,
            settings=svc.settings,
            resolver=svc.resolver,
        )
    except NotificationError as exc:
        raise ApiError(400, str(exc)) from None
    async with svc.db.write() as session:
        repo = await repository_for(session, principal, repository, Role.ADMIN)
        try:
            notification = await store_notification(
                session,
                repo,
                draft,
                settings=svc.settings,
                box=svc.box,
                created_by=principal.user,
                performer=principal.label,
            )
        except NotificationError as exc:
            raise ApiError(400, str(exc)) from None
        await mark_token_used(session, principal)
    view = notification_view(notification, svc.box)
    secret = draft.config.get("secret")
    return {**view, "signing_secret": secret if isinstance(secret, str) else None}


@router.get(f"{BASE}/", response_model=NotificationList)
@router.get(BASE, response_model=NotificationList, include_in_schema=False)
async def list_all(repository: str, principal: CurrentPrincipal, svc: ServicesDep) -> dict[str, Any]:
    async with svc.db.read() as session:
        repo = await repository_for(session, principal, repository, Role.ADMIN)
        notifications = await list_notifications(session, repo)
        return {"notifications": [notification_view(n, svc.box) for n in notifications]}


async def _one(session: Any, principal: Any, repository: str, uuid: str) -> Any:
    repo = await repository_for(session, principal, repository, Role.ADMIN)
    notification = await find_notification(session, repo, uuid)
    if notification is None:
        raise ApiError(404, f"no notification {uuid} in repository {repository}")
    return repo, notification


@router.get(BASE + "/{uuid}", response_model=NotificationView)
async def get_one(
    repository: str, uuid: str, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    async with svc.db.read() as session:
        _, notification = await _one(session, principal, repository, uuid)
        return notification_view(notification, svc.box)


@router.delete(BASE + "/{uuid}", status_code=204)
async def delete(repository: str, uuid: str, principal: CurrentPrincipal, svc: ServicesDep) -> Response:
    async with svc.db.write() as session:
        _, notification = await _one(session, principal, repository, uuid)
        await delete_notification(session, notification, principal.label)
        await mark_token_used(session, principal)
    return Response(status_code=204)


@router.post(BASE + "/{uuid}", status_code=204)
async def reset(repository: str, uuid: str, principal: CurrentPrincipal, svc: ServicesDep) -> Response:
    """Reset the failure count and enable the notification again (Quay's "Enable")."""
    async with svc.db.write() as session:
        _, notification = await _one(session, principal, repository, uuid)
        await reset_failures(session, notification, principal.label)
        await mark_token_used(session, principal)
    return Response(status_code=204)


@router.post(BASE + "/{uuid}/test", response_model=TestQueued)
async def test(repository: str, uuid: str, principal: CurrentPrincipal, svc: ServicesDep) -> dict[str, Any]:
    """Queue the event's sample data for this notification alone, whatever its filter or state.

    At most ``test_calls_per_minute`` per notification: a test sends to the target for real."""
    async with svc.db.write() as session:
        repo, notification = await _one(session, principal, repository, uuid)
        try:
            delivery = await queue_test_delivery(session, repo, notification, svc.settings, principal.label)
        except TestRateLimited as limited:
            raise ApiError(429, str(limited), headers={"Retry-After": str(limited.retry_after)}) from None
        await mark_token_used(session, principal)
        return {"delivery": {"id": delivery.uuid, "state": delivery.state}}
