"""Tag expirations: a registry or tool says when a tag expires (or that it no longer does)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import AwareDatetime, BaseModel, ConfigDict

from regnotify.accounts import Role
from regnotify.api.auth import CurrentPrincipal, mark_token_used, repository_for
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.ingest.distribution import TAG_RE
from regnotify.ingest.expirations import set_expiration

router = APIRouter(tags=["tags"])
ServicesDep = Annotated[Services, Depends(services)]


class Expiration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expires_at: AwareDatetime | None  # with a time zone, e.g. 2026-12-01T00:00:00Z; null clears it


@router.put("/repository/{repository:path}/tag/{tag}/expiration")
async def put_expiration(
    repository: str, tag: str, body: Expiration, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """Record when ``tag`` expires; ``repo_image_expiry`` notifications fire within their ``days``."""
    if not TAG_RE.match(tag):
        raise ApiError(400, f"invalid tag {tag[:130]!r}: letters, digits, _ . - and at most 128 characters")
    async with svc.db.write() as session:
        repo = await repository_for(session, principal, repository, Role.WRITE, service_allowed=True)
        await set_expiration(session, repo, tag, body.expires_at)
        await mark_token_used(session, principal)
    return {"tag": tag, "expires_at": body.expires_at.isoformat() if body.expires_at else None}
