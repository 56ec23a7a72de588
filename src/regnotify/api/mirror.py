"""Mirror sync reports: a mirroring tool says a sync started, succeeded or failed."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from regnotify.accounts import Role
from regnotify.api.auth import CurrentPrincipal, mark_token_used, repository_for
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.events import EventError
from regnotify.ingest.mirror import record_mirror_sync

router = APIRouter(tags=["mirror"])
ServicesDep = Annotated[Services, Depends(services)]


class MirrorSync(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Literal["started", "success", "failed"]
    external_reference: str = Field(min_length=1, max_length=1024, description="e.g. quay.io/org/image")
    tag_pattern: str | None = Field(default=None, max_length=255, description="Glob of the mirrored tags")
    error: str | None = Field(default=None, max_length=8192, description="Why it failed (failed only)")


@router.post("/repository/{repository:path}/mirror/sync", status_code=201)
async def report_sync(
    repository: str, body: MirrorSync, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """Store ``repo_mirror_sync_started``, ``_success`` or ``_failed`` for this repository."""
    if body.error and body.status != "failed":
        raise ApiError(400, "error belongs to a failed sync only")
    async with svc.db.write() as session:
        repo = await repository_for(session, principal, repository, Role.WRITE, service_allowed=True)
        try:
            recorded = await record_mirror_sync(
                session,
                repo,
                body.status,
                external_reference=body.external_reference,
                tag_pattern=body.tag_pattern,
                error=body.error,
                settings=svc.settings,
                source=principal.label,
            )
        except EventError as exc:
            raise ApiError(400, str(exc)) from None
        await mark_token_used(session, principal)
        return {
            "event_id": recorded.event.uuid,
            "kind": recorded.event.kind,
            "payload": recorded.event.payload,
        }
