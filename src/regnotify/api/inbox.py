"""The signed-in user's in-app notices (the bell), in Quay's shape."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.api.auth import CurrentPrincipal, signed_in_user
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.db.models import InboxItem, Organization, User

router = APIRouter(tags=["inbox"])
ServicesDep = Annotated[Services, Depends(services)]
FIRST_PAGE = "Quay's paging (peewee's): 0, the default, and 1 are both the first page"


class DismissBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dismissed: bool


# Kept with some notices for the pages (the bell links a disabled notification to its history, for
# the admins it tells); never part of the API's metadata, which is the event's payload (Quay's).
SERVER_SIDE_METADATA = ("notification_uuid",)


def item_view(item: InboxItem, organization: str | None) -> dict[str, Any]:
    metadata = item.item_metadata
    if isinstance(metadata, dict) and any(key in metadata for key in SERVER_SIDE_METADATA):
        metadata = {key: value for key, value in metadata.items() if key not in SERVER_SIDE_METADATA}
    return {
        "id": item.uuid,
        "organization": organization,
        "kind": item.kind,
        "created": item.created_at.isoformat(),
        "metadata": metadata,
        "dismissed": item.dismissed,
    }


def _with_organization():  # type: ignore[no-untyped-def]
    """Each notice with its organization's name: set (as in Quay) only for organization targets."""
    return select(InboxItem, Organization.name).outerjoin(
        Organization, Organization.id == InboxItem.organization_id
    )


async def _own(session: AsyncSession, user: User, uuid: str) -> tuple[InboxItem, str | None]:
    """The user's notice ``uuid`` with its organization; 404 when it is not theirs (or no notice)."""
    query = _with_organization().where(InboxItem.uuid == uuid, InboxItem.user_id == user.id)
    row = (await session.execute(query)).first()
    if row is None:
        raise ApiError(404, f"no notice {uuid} for you")
    item, organization = row
    return item, organization


@router.get("/user/notifications")
async def list_notices(
    principal: CurrentPrincipal,
    svc: ServicesDep,
    page: Annotated[int, Query(ge=0, le=10_000, description=FIRST_PAGE)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 5,
    dismissed: bool = False,
) -> dict[str, Any]:
    """Your notices, newest first; dismissed ones only when asked for."""
    user = signed_in_user(principal)
    async with svc.db.read() as session:
        query = _with_organization().where(InboxItem.user_id == user.id)
        if not dismissed:
            query = query.where(InboxItem.dismissed.is_(False))
        rows = (
            await session.execute(
                query.order_by(InboxItem.created_at.desc(), InboxItem.id.desc())
                .offset((max(page, 1) - 1) * limit)
                .limit(limit + 1)
            )
        ).all()
        return {
            "notifications": [item_view(item, org) for item, org in rows[:limit]],
            "additional": len(rows) > limit,
        }


@router.get("/user/notifications/{uuid}")
async def get_notice(uuid: str, principal: CurrentPrincipal, svc: ServicesDep) -> dict[str, Any]:
    """One of your notices (Quay's getUserNotification); anyone else's is a 404."""
    user = signed_in_user(principal)
    async with svc.db.read() as session:
        item, organization = await _own(session, user, uuid)
        return item_view(item, organization)


@router.put("/user/notifications/{uuid}")
async def dismiss(
    uuid: str, body: DismissBody, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """Dismiss (or restore) one of your notices; each user dismisses their own."""
    user = signed_in_user(principal)
    async with svc.db.write() as session:
        item, organization = await _own(session, user, uuid)
        item.dismissed = body.dismissed
        return item_view(item, organization)
