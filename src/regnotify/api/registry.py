"""The registry receiver: CNCF Distribution notification envelopes in, ``repo_push`` events out.

Distribution retries any non-2xx answer for ever, one request at a time per endpoint, so one
refused envelope would hold back every later event of that registry. So: a wrong or missing
token is a 401 (the operator must fix the registry's YAML), a body that is not JSON at all (or
is nested too deeply, or holds more events than any registry sends at once) a 400, and
everything else a 200 once the envelope's events are stored. Each event that could not
be used is logged and recorded with the reason; superusers list them at ``/registry/rejections``.
Among those: pushes outside the source token's namespaces, and pushes that would create a
namespace once the source has created ``SOURCE_MAX_NEW_NAMESPACES`` of them. What every source
shares (the token's scope, the namespaces, storing, the rejections) is ``source_intake.py``; this
module parses Distribution's envelopes (``ingest/distribution.py``) and lists the rejections.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import select

from regnotify.api.auth import UNAUTHORIZED_HEADERS, CurrentPrincipal, authenticate
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.api.json_body import parse_json_body
from regnotify.api.source_intake import Receipt, source_name, store_batch
from regnotify.db.models import IngestRejection
from regnotify.ingest.batch import Rejection, SourceBatch
from regnotify.ingest.distribution import MAX_ENVELOPE_EVENTS, Skipped, classify, envelope_events
from regnotify.ingest.pushes import PushToRecord

router = APIRouter(tags=["registry"])
ServicesDep = Annotated[Services, Depends(services)]

HOW_TO_SEND = (
    "send the source token in the registry's endpoint headers: Authorization: Bearer <token> "
    "(regnotify source create NAME --namespace NS prints one)"
)


@router.post(
    "/registry/events",
    response_model=Receipt,
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
    source = source_name(principal, "registry", how_to_send=HOW_TO_SEND, senders="registries")
    body = parse_json_body(await request.body(), "a Distribution notification envelope")
    events = envelope_events(body)
    if events is not None and len(events) > MAX_ENVELOPE_EVENTS:
        raise ApiError(400, f"the envelope holds {len(events)} events; send at most {MAX_ENVELOPE_EVENTS}")
    batch = SourceBatch(source)
    if events is None:
        batch.reject(None, "the body is JSON but not a notification envelope", body)
    for event in events or []:
        outcome = classify(event)
        if isinstance(outcome, Skipped):
            if outcome.rejected:
                batch.rejected.append(Rejection(outcome.event_id, outcome.reason, outcome.excerpt))
            else:
                batch.ignore()
            continue
        batch.add_push(
            PushToRecord(
                outcome.repository,
                outcome.tag,
                outcome.digest,
                source,
                external_id=outcome.event_id,
                registry_host=outcome.request_host,
            ),
            event,
        )
    receipt = await store_batch(request, principal, batch)
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
