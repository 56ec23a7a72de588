"""The registry receiver: CNCF Distribution notification envelopes in, ``repo_push`` events out.

Distribution retries any non-2xx answer for ever, one request at a time per endpoint, so one
refused envelope would hold back every later event of that registry. So: a wrong or missing
token is a 401 (the operator must fix the registry's YAML), a body that is not JSON at all (or
is nested too deeply, or holds more events than any registry sends at once) a 400, and
everything else a 200 once the envelope's events are stored. Each event that could not
be used is logged and recorded with the reason; superusers list them at ``/registry/rejections``.
Among those: pushes outside the source token's namespaces, and pushes that would create a
namespace once the source has created ``SOURCE_MAX_NEW_NAMESPACES`` of them.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import AccountError, AlreadyExists, InvalidName, create_organization, split_repository
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
from regnotify.db.models import ApiToken, IngestRejection, Organization, User
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
                "(regnotify source create NAME --namespace NS prints one)",
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
    known_namespaces: set[str]  # the application's: namespaces seen to exist (none is ever deleted)


USERS = User.__table__
ORGANIZATIONS = Organization.__table__
# Users' and organizations' names among :names, in one statement built once.
TAKEN_NAMESPACES = union_all(
    select(USERS.c.username).where(USERS.c.username.in_(bindparam("names", expanding=True))),
    select(ORGANIZATIONS.c.name).where(ORGANIZATIONS.c.name.in_(bindparam("names", expanding=True))),
)
MAX_KNOWN_NAMESPACES = 100_000  # names an application remembers before it starts afresh


def _known_namespaces(request: Request) -> set[str]:
    """Namespaces this application saw in the database: a push to one needs no look-up (users
    and organizations are never deleted, so a name once taken stays taken)."""
    known: set[str] | None = getattr(request.app.state, "registry_namespaces", None)
    if known is None:
        known = request.app.state.registry_namespaces = set()
    return known


def _namespace(repository: str) -> str | None:
    try:
        return split_repository(repository)[0]
    except InvalidName:
        return None  # refused by record_tag_pushes, with the reason


async def _claim_namespaces(session: AsyncSession, envelopes: list[_Envelope]) -> list[dict[int, str]]:
    """Create the namespaces the envelopes' pushes are the first to name, each as an organization
    recorded as its source's; a source past ``SOURCE_MAX_NEW_NAMESPACES`` creates none. For each
    envelope, its pushes refused that way (by index) and why.

    Outside the transaction only the names found taken are remembered, so a batch run again alone
    decides afresh."""
    refused: list[dict[int, str]] = [{} for _ in envelopes]
    named = {
        namespace
        for envelope in envelopes
        for push in envelope.pushes
        if (namespace := _namespace(push.repository)) is not None
    }
    if not named:
        return refused
    known = envelopes[0].known_namespaces  # the envelopes of one application
    if named <= known:  # the usual case: no query, nothing to create
        return refused
    connection = await session.connection()
    taken = set((await connection.execute(TAKEN_NAMESPACES, {"names": sorted(named - known)})).scalars())
    if len(known) + len(taken) > MAX_KNOWN_NAMESPACES:
        known.clear()
    known.update(taken)  # committed rows only: what this transaction creates is learnt next time
    taken |= named & known
    if named <= taken:
        return refused
    creators = sorted(
        {
            envelope.principal.token_id
            for envelope in envelopes
            if envelope.principal.token_id is not None
            and any(
                (namespace := _namespace(push.repository)) is not None and namespace not in taken
                for push in envelope.pushes
            )
        }
    )
    # Lock the creating sources' token rows (on PostgreSQL; in id order, as every transaction
    # does): another process's transaction creating namespaces for one of them waits here, and
    # then counts what this one created.
    await session.execute(
        select(ApiToken.id).where(ApiToken.id.in_(creators)).order_by(ApiToken.id).with_for_update()
    )
    counted = await session.execute(
        select(Organization.created_by_token_id, func.count())
        .where(Organization.created_by_token_id.in_(creators))
        .group_by(Organization.created_by_token_id)
    )
    created = dict.fromkeys(creators, 0)  # namespaces each source created, this transaction's included
    # not None: the WHERE clause asks for these ids
    created.update({cast(int, token_id): int(count) for token_id, count in counted})
    limit = envelopes[0].settings.source_max_new_namespaces
    for envelope, refusals in zip(envelopes, refused, strict=True):
        token_id = envelope.principal.token_id
        for index, push in enumerate(envelope.pushes):
            namespace = _namespace(push.repository)
            if namespace is None or namespace in taken or token_id is None:
                continue
            if created[token_id] >= limit:
                refusals[index] = (
                    f"namespace {namespace} does not exist, and source {envelope.principal.service} has "
                    f"created {created[token_id]} namespaces, the most one source may "
                    f"(REGNOTIFY_SOURCE_MAX_NEW_NAMESPACES={limit}): create it (regnotify org create)"
                )
                continue
            try:
                async with session.begin_nested():
                    await create_organization(session, namespace, created_by_token_id=token_id)
            except (AlreadyExists, IntegrityError):  # another transaction took the name meanwhile
                pass
            except AccountError:  # not a valid organization name: record_tag_pushes says so
                continue
            else:
                created[token_id] += 1
            taken.add(namespace)
    return refused


async def _store(session: AsyncSession, envelopes: list[_Envelope]) -> list[EnvelopeReceipt]:
    """Store the envelopes of one shared transaction: every push of them in one set-wise call."""
    receipts = [EnvelopeReceipt(ignored=envelope.ignored) for envelope in envelopes]
    refused = await _claim_namespaces(session, envelopes)
    pushes = [
        push
        for envelope, refusals in zip(envelopes, refused, strict=True)
        for index, push in enumerate(envelope.pushes)
        if index not in refusals
    ]
    # The envelopes of one application, so one set of settings.
    outcomes = iter(await record_tag_pushes(session, pushes, settings=envelopes[0].settings))
    for envelope, receipt, refusals in zip(envelopes, receipts, refused, strict=True):
        rejected = list(envelope.rejected)
        for index, (push, event) in enumerate(zip(envelope.pushes, envelope.push_events, strict=True)):
            if index in refusals:
                rejected.append((push.external_id, refusals[index], excerpt(event)))
                continue
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
    envelope = _Envelope(principal, svc.settings, [], [], [], 0, _known_namespaces(request))
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
        if principal.namespaces is not None:  # a scoped source: its namespaces only
            namespace = _namespace(outcome.repository)
            if namespace is not None and not principal.may_post_to(namespace):
                envelope.rejected.append(
                    (outcome.event_id, principal.out_of_scope(namespace), excerpt(event))
                )
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
