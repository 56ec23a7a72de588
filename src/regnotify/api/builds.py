"""Build reports from CI: queue a build, report its phases, list and show builds."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from regnotify.accounts import Role
from regnotify.api.auth import CurrentPrincipal, mark_token_used, repository_for
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.db.models import Build
from regnotify.events import EventError
from regnotify.ingest.builds import BuildConflict, advance_build, build_view, queue_build

router = APIRouter(tags=["builds"])
ServicesDep = Annotated[Services, Depends(services)]
BASE = "/repository/{repository:path}/builds"


class BuildQueue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    docker_tags: list[str] = Field(description="Tags the build will push", max_length=1000)
    is_manual: bool = False
    manual_user: str | None = None
    build_name: str | None = None
    trigger_kind: str | None = Field(default=None, description="e.g. github, gitlab, custom-git")
    trigger_id: str | None = None
    trigger_metadata: dict[str, Any] | None = Field(
        default=None,
        description="default_branch, ref, commit, commit_info{url, message, date, author, committer}",
    )


class BuildPhase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phase: Literal["started", "success", "failure", "cancelled"]
    error_message: str | None = Field(default=None, description="Why it failed (failure only)")
    image_id: str | None = None
    manifest_digests: list[str] | None = None


@router.post(BASE, status_code=201)
async def queue(
    repository: str, body: BuildQueue, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """Report a queued build: stores ``build_queued`` and answers with the new build id."""
    async with svc.db.write() as session:
        repo = await repository_for(session, principal, repository, Role.WRITE, service_allowed=True)
        try:
            build, _ = await queue_build(
                session,
                repo,
                body.model_dump(exclude_none=True),
                settings=svc.settings,
                source=principal.label,
            )
        except EventError as exc:
            raise ApiError(400, str(exc)) from None
        await mark_token_used(session, principal)
        return build_view(build, repo, svc.settings)


@router.post(BASE + "/{build_id}/phase")
async def report_phase(
    repository: str, build_id: str, body: BuildPhase, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    """Move the build on: queued → started → success | failure | cancelled, or queued → cancelled."""
    async with svc.db.write() as session:
        repo = await repository_for(session, principal, repository, Role.WRITE, service_allowed=True)
        build = await session.scalar(
            select(Build).where(Build.uuid == build_id, Build.repository_id == repo.id).with_for_update()
        )
        if build is None:
            raise ApiError(404, f"no build {build_id} in repository {repository}")
        extras = body.model_dump(exclude_none=True, exclude={"phase"})
        try:
            await advance_build(
                session, repo, build, body.phase, extras, settings=svc.settings, source=principal.label
            )
        except BuildConflict as exc:
            raise ApiError(409, str(exc)) from None
        except EventError as exc:
            raise ApiError(400, str(exc)) from None
        await mark_token_used(session, principal)
        return build_view(build, repo, svc.settings)


@router.get(BASE)
async def list_builds(
    repository: str,
    principal: CurrentPrincipal,
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    async with svc.db.read() as session:
        repo = await repository_for(session, principal, repository, Role.READ)
        builds = await session.scalars(
            select(Build)
            .where(Build.repository_id == repo.id)
            .order_by(Build.created_at.desc(), Build.id.desc())
            .limit(limit)
        )
        return {"builds": [build_view(b, repo, svc.settings) for b in builds]}


@router.get(BASE + "/{build_id}")
async def get_build(
    repository: str, build_id: str, principal: CurrentPrincipal, svc: ServicesDep
) -> dict[str, Any]:
    async with svc.db.read() as session:
        repo = await repository_for(session, principal, repository, Role.READ)
        build = await session.scalar(
            select(Build).where(Build.uuid == build_id, Build.repository_id == repo.id)
        )
        if build is None:
            raise ApiError(404, f"no build {build_id} in repository {repository}")
        return build_view(build, repo, svc.settings)
