"""The generic events API: post an event of any kind to a repository; list recent events."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from regnotify.accounts import Role, user_role
from regnotify.api.auth import CurrentPrincipal, mark_token_used, repository_for
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.db.models import Event
from regnotify.events import EventError, get_event_kind
from regnotify.ingest import EventConflict, Recorded, record_event, repository_ref

router = APIRouter(tags=["events"])
ServicesDep = Annotated[Services, Depends(services)]


class EventPost(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(max_length=64, description="Event kind, e.g. repo_push")
    data: dict[str, Any] = Field(description="The event's own fields; the common ones are filled in")
    id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Your id for this event: posting the same id again notifies nobody twice",
    )


class DeliveryRef(BaseModel):
    id: str
    notification_uuid: str
    state: str


class EventView(BaseModel):
    id: str
    kind: str
    external_id: str | None
    source: str | None = Field(
        default=None,
        description="Who posted it (a user, a source token, a test): listed to repository admins only",
    )
    received: str
    payload: dict[str, Any]
    duplicate: bool = False
    deliveries: list[DeliveryRef] = []


class EventList(BaseModel):
    events: list[EventView]


def _view(recorded: Recorded) -> dict[str, Any]:
    event = recorded.event
    return {
        "id": event.uuid,
        "kind": event.kind,
        "external_id": event.external_id,
        "source": event.source,
        "received": event.received_at.isoformat(),
        "payload": event.payload,
        "duplicate": recorded.duplicate,
        "deliveries": [
            {"id": d.uuid, "notification_uuid": n.uuid, "state": d.state} for d, n in recorded.deliveries
        ],
    }


@router.post(
    "/repository/{repository:path}/events",
    status_code=201,
    response_model=EventView,
    responses={200: {"description": "The same event id was posted before; nothing new was queued"}},
)
async def post_event(
    repository: str, body: EventPost, principal: CurrentPrincipal, svc: ServicesDep, response: Response
) -> dict[str, Any]:
    """Store an event and queue a delivery for every enabled notification whose filter matches."""
    async with svc.db.write() as session:
        repo = await repository_for(session, principal, repository, Role.WRITE, service_allowed=True)
        try:
            kind = get_event_kind(body.kind)
            payload = kind.build_payload(repository_ref(repo, svc.settings), body.data)
        except EventError as exc:
            raise ApiError(400, str(exc)) from None
        try:
            recorded = await record_event(
                session, repo, kind, payload, source=principal.label, external_id=body.id
            )
        except EventConflict as exc:
            raise ApiError(409, str(exc)) from None
        await mark_token_used(session, principal)
        if recorded.duplicate:
            response.status_code = 200
        return _view(recorded)


@router.get(
    "/repository/{repository:path}/events", response_model=EventList, response_model_exclude_unset=True
)
async def list_events(
    repository: str,
    principal: CurrentPrincipal,
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """The repository's most recent events, newest first. Its admins also see test events and who
    posted each event (``source``); deliveries are shown to admins only, in each notification's
    delivery log."""
    async with svc.db.read() as session:
        repo = await repository_for(session, principal, repository, Role.READ)
        admin = await user_role(session, principal.user, repo) >= Role.ADMIN
        query = select(Event).where(Event.repository_id == repo.id)
        if not admin:
            query = query.where(Event.is_test.is_(False))
        events = await session.scalars(query.order_by(Event.received_at.desc(), Event.id.desc()).limit(limit))
        views = [_view(Recorded(event, [], duplicate=False)) for event in events]
        if not admin:
            for view in views:
                del view["source"]
        return {"events": views}
