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
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.api.auth import (
    UNAUTHORIZED_HEADERS,
    CurrentPrincipal,
    Principal,
    authenticate,
    mark_token_used,
)
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.api.json_body import parse_json_body
from regnotify.config import Settings
from regnotify.db.models import IngestRejection
from regnotify.ingest.distribution import MAX_ENVELOPE_EVENTS, Skipped, classify, envelope_events, excerpt
from regnotify.ingest.pushes import PushToRecord, record_tag_pushes

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


@dataclass
class _Envelope:
    """One posted envelope, judged before it takes a turn at the database (which does only writes)."""

    principal: Principal
    settings: Settings
    rejected: list[tuple[str | None, str, str]]  # event id, reason, excerpt
    pushes: list[PushToRecord]
    push_events: list[Any]  # each push's event as posted, for the excerpt if it is refused
    ignored: int


async def _store(session: AsyncSession, envelopes: list[_Envelope]) -> list[EnvelopeReceipt]:
    """Store the envelopes of one shared transaction: every push of them in one set-wise call."""
    receipts = [EnvelopeReceipt(ignored=envelope.ignored) for envelope in envelopes]
    pushes = [push for envelope in envelopes for push in envelope.pushes]
    # The envelopes of one application, so one set of settings.
    outcomes = iter(await record_tag_pushes(session, pushes, settings=envelopes[0].settings))
    for envelope, receipt in zip(envelopes, receipts, strict=True):
        rejected = list(envelope.rejected)
        for push, event in zip(envelope.pushes, envelope.push_events, strict=True):
            outcome = next(outcomes)
            if outcome.error is not None:
                rejected.append((push.external_id, str(outcome.error), excerpt(event)))
            elif outcome.accepted:
                receipt.accepted += 1
            else:
                receipt.duplicates += 1
        source = _source(envelope.principal)
        for event_id, reason, detail in rejected:
            receipt.rejected += 1
            log.warning("registry event %s from %s not used: %s", event_id or "(no id)", source, reason)
            session.add(IngestRejection(source=source, external_id=event_id, reason=reason, excerpt=detail))
        await mark_token_used(session, envelope.principal)
    return receipts


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
async def receive(request: Request) -> Response:
    """Store the envelope's tag pushes as ``repo_push`` events (and queue their deliveries)."""
    # The bulk of all requests: no dependencies to solve and no response model to validate.
    svc: Services = request.app.state.services
    principal = await authenticate(request, svc)
    source = _source(principal)
    body = parse_json_body(await request.body(), "a Distribution notification envelope")
    events = envelope_events(body)
    if events is not None and len(events) > MAX_ENVELOPE_EVENTS:
        raise ApiError(400, f"the envelope holds {len(events)} events; send at most {MAX_ENVELOPE_EVENTS}")
    envelope = _Envelope(principal, svc.settings, [], [], [], 0)
    if events is None:
        envelope.rejected.append((None, "the body is JSON but not a notification envelope", excerpt(body)))
    for event in events or []:
        outcome = classify(event)
        if isinstance(outcome, Skipped):
            if outcome.rejected:
                envelope.rejected.append((outcome.event_id, outcome.reason, outcome.excerpt))
            else:
                envelope.ignored += 1
            continue
        envelope.pushes.append(
            PushToRecord(
                outcome.repository,
                outcome.tag,
                outcome.digest,
                source,
                external_id=outcome.event_id,
                registry_host=outcome.request_host,
            )
        )
        envelope.push_events.append(event)
    # Stored together with the envelopes other registries (or this one) post meanwhile.
    receipt = await svc.group_commit.run(_store, envelope)
    return Response(receipt.model_dump_json(), media_type="application/json")


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
