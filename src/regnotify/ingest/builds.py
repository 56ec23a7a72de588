"""Builds a CI system reports: queued → started → success | failure | cancelled, each an event.

regnotify runs no builds. A CI job queues a build (``build_queued`` with a new ``build_id``) and
reports its phases; each allowed transition stores the matching event with the seed's payload.
A successful build that names exactly one manifest digest also yields ``repo_push`` for its tags,
through the same tag → digest window as registry pushes (so the registry's own notification of
the same push does not notify twice).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db.models import Build, Repository
from regnotify.db.types import utcnow
from regnotify.events import PayloadError, get_event_kind
from regnotify.ingest.pushes import PushToRecord, record_tag_pushes
from regnotify.ingest.recording import Recorded, record_event, repository_ref

PHASE_EVENTS = {
    "queued": "build_queued",
    "started": "build_start",
    "success": "build_success",
    "failure": "build_failure",
    "cancelled": "build_cancelled",
}
NEXT_PHASES = {"queued": ("started", "cancelled"), "started": ("success", "failure", "cancelled")}
# Fields every later event of the build repeats; the rest belong to the queue or to one phase.
CARRIED = ("docker_tags", "build_name", "trigger_kind", "trigger_id", "trigger_metadata")
PHASE_FIELDS = ("error_message", "image_id", "manifest_digests")


class BuildConflict(ValueError):
    """A phase the build cannot move to from where it is."""


async def queue_build(
    session: AsyncSession, repository: Repository, fields: dict[str, Any], *, settings: Settings, source: str
) -> tuple[Build, Recorded]:
    build_id = str(uuid.uuid4())
    kind = get_event_kind("build_queued")
    payload = kind.build_payload(repository_ref(repository, settings), {**fields, "build_id": build_id})
    build = Build(
        uuid=build_id,
        repository_id=repository.id,
        phase="queued",
        fields={key: payload[key] for key in (*CARRIED, "is_manual", "manual_user") if key in payload},
    )
    session.add(build)
    await session.flush()
    recorded = await record_event(
        session, repository, kind, payload, source=source, external_id=f"build:{build_id}:queued"
    )
    return build, recorded


async def advance_build(
    session: AsyncSession,
    repository: Repository,
    build: Build,
    phase: str,
    extras: dict[str, Any],
    *,
    settings: Settings,
    source: str,
) -> Recorded:
    """Move ``build`` to ``phase`` and store its event. BuildConflict / PayloadError say what is wrong."""
    if phase not in NEXT_PHASES.get(build.phase, ()):
        allowed = " or ".join(NEXT_PHASES.get(build.phase, ())) or "nothing (it has finished)"
        raise BuildConflict(f"build {build.uuid} is {build.phase}; it can become {allowed}, not {phase}")
    if "error_message" in extras and phase != "failure":
        raise PayloadError("error_message belongs to the failure phase only")
    kind = get_event_kind(PHASE_EVENTS[phase])
    carried = {key: build.fields[key] for key in CARRIED if key in build.fields}
    data = {"build_id": build.uuid, **carried, **{k: v for k, v in extras.items() if k in PHASE_FIELDS}}
    payload = kind.build_payload(repository_ref(repository, settings), data)
    build.phase = phase
    build.updated_at = utcnow()
    build.fields = {**build.fields, **{k: payload[k] for k in PHASE_FIELDS if k in payload}}
    recorded = await record_event(
        session, repository, kind, payload, source=source, external_id=f"build:{build.uuid}:{phase}"
    )
    digests = payload.get("manifest_digests") or []
    if phase == "success" and len(digests) == 1:
        tags = payload.get("docker_tags", [])
        pushes = [PushToRecord(repository.full_name, tag, digests[0], source) for tag in tags]
        for outcome in await record_tag_pushes(session, pushes, settings=settings):
            if outcome.error is not None:
                raise outcome.error
    return recorded


def build_view(build: Build, repository: Repository, settings: Settings) -> dict[str, Any]:
    return {
        "id": build.uuid,
        "repository": repository.full_name,
        "phase": build.phase,
        "created": build.created_at.isoformat(),
        "updated": build.updated_at.isoformat(),
        "homepage": f"{settings.base_url}/repository/{repository.full_name}/build?current={build.uuid}",
        **build.fields,
    }
