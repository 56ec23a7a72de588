"""The registry receiver: CNCF Distribution notification envelopes in, ``repo_push`` events out.

Distribution retries any non-2xx answer for ever, one request at a time per endpoint, so one
refused envelope would hold back every later event of that registry. So: a wrong or missing
token is a 401 (the operator must fix the registry's YAML), a body that is not JSON at all (or
is nested too deeply, or holds more events than any registry sends at once) a 400, and
everything else a 200 once the envelope's events are stored. Each event that could not
be used is logged and recorded with the reason; superusers list them at ``/registry/rejections``.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import AccountError
from regnotify.api.auth import UNAUTHORIZED_HEADERS, CurrentPrincipal, Principal, mark_token_used
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.api.json_body import parse_json_body
from regnotify.db.models import IngestRejection
from regnotify.events import EventError
from regnotify.ingest import EventConflict
from regnotify.ingest.distribution import MAX_ENVELOPE_EVENTS, Skipped, classify, envelope_events, excerpt
from regnotify.ingest.pushes import ensure_repository, record_tag_push

log = logging.getLogger(__name__)
router = APIRouter(tags=["registry"])
ServicesDep = Annotated[Services, Depends(services)]


class EnvelopeReceipt(BaseModel):
    accepted: int = 0  # tag pushes that became repo_push events
    duplicates: int = 0  # seen before (same event id, or same tag → digest within the window)
    ignored: int = 0  # pulls, mounts, deletes, blob pushes, pushes by digest
    rejected: int = 0  # could not be used; see /registry/rejections


def _source(principal: Principal) -> str:
    if principal.service is None:
        if principal.is_anonymous:
            raise ApiError(
                401,
                "send the source token in the registry's endpoint headers: Authorization: Bearer <token> "
                "(regnotify source create NAME prints one)",
                headers=UNAUTHORIZED_HEADERS,
            )
        raise ApiError(
            403, "registries post with a source token (regnotify source create NAME), not a user's"
        )
    return f"registry:{principal.service}"


@router.post(
    "/registry/events",
    response_model=EnvelopeReceipt,
    openapi_extra={
        "requestBody": {
            "content": {
                "application/vnd.docker.distribution.events.v1+json": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
            }
        }
    },
)
async def receive(request: Request, principal: CurrentPrincipal, svc: ServicesDep) -> EnvelopeReceipt:
    """Store the envelope's tag pushes as ``repo_push`` events (and queue their deliveries)."""
    source = _source(principal)
    body = parse_json_body(await request.body(), "a Distribution notification envelope")
    events = envelope_events(body)
    if events is not None and len(events) > MAX_ENVELOPE_EVENTS:
        raise ApiError(400, f"the envelope holds {len(events)} events; send at most {MAX_ENVELOPE_EVENTS}")
    # Judge every event before taking a turn at the database: the shared transaction does only writes.
    judged = [(event, classify(event)) for event in events] if events is not None else []

    async def store(session: AsyncSession) -> EnvelopeReceipt:
        receipt = EnvelopeReceipt()

        def reject(event_id: str | None, reason: str, detail: str) -> None:
            receipt.rejected += 1
            log.warning("registry event %s from %s not used: %s", event_id or "(no id)", source, reason)
            session.add(IngestRejection(source=source, external_id=event_id, reason=reason, excerpt=detail))

        if events is None:
            reject(None, "the body is JSON but not a notification envelope", excerpt(body))
        for event, outcome in judged:
            if isinstance(outcome, Skipped):
                if outcome.rejected:
                    reject(outcome.event_id, outcome.reason, outcome.excerpt)
                else:
                    receipt.ignored += 1
                continue
            try:
                repository = await ensure_repository(session, outcome.repository)
                recorded = await record_tag_push(
                    session,
                    repository,
                    outcome.tag,
                    outcome.digest,
                    settings=svc.settings,
                    source=source,
                    external_id=outcome.event_id,
                    registry_host=outcome.request_host,
                )
            except (AccountError, EventError, EventConflict) as exc:
                reject(outcome.event_id, str(exc), excerpt(event))
                continue
            if recorded is None or recorded.duplicate:
                receipt.duplicates += 1
            else:
                receipt.accepted += 1
        await mark_token_used(session, principal)
        return receipt

    # Stored together with the envelopes other registries (or this one) post meanwhile.
    return await svc.group_commit.run(store)


@router.get("/registry/rejections")
async def rejections(
    principal: CurrentPrincipal, svc: ServicesDep, limit: Annotated[int, Query(ge=1, le=500)] = 50
) -> dict[str, Any]:
    """Events sources sent that could not be used, newest first (superusers only)."""
    if principal.is_anonymous:
        raise ApiError(401, "authentication required: send a bearer token", headers=UNAUTHORIZED_HEADERS)
    if principal.user is None or not principal.user.is_superuser:
        raise ApiError(403, "only superusers may read the rejected events")
    async with svc.db.read() as session:
        rows = await session.scalars(select(IngestRejection).order_by(IngestRejection.id.desc()).limit(limit))
        return {
            "rejections": [
                {
                    "source": row.source,
                    "event_id": row.external_id,
                    "reason": row.reason,
                    "excerpt": row.excerpt,
                    "received": row.received_at.isoformat(),
                }
                for row in rows
            ]
        }
