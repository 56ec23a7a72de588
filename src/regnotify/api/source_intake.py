"""The intake every source's receiver shares: who may post, where, and storing what was posted.

A receiver (``registry.py`` for Distribution, ``harbor.py``, ``cloudevents.py``, ``dockerhub.py``,
``github.py``) authenticates the caller, parses the body into an ``ingest.batch.SourceBatch`` and
hands it to ``store_batch``, which answers with the ``Receipt`` to send back::

    principal = await authenticate(request, svc)            # or token_principal(svc, token)
    source = source_name(principal, "harbor", how_to_send="set the policy's auth header to ...")
    body = parse_json_body(await request.body(), "a Harbor webhook payload")   # 400 if not JSON
    batch = parse_harbor(body, source=source)                # pure: ingest/harbor.py
    receipt = await store_batch(request, principal, batch)
    return Response(receipt.model_dump_json(), media_type="application/json")

``store_batch`` then, for every item of the batch:

- refuses (records, never raises) a push or event outside the source token's namespaces
  (``Principal.may_post_to``), before anything is stored;
- in a shared write transaction (``svc.group_commit``: the batches other requests post meanwhile
  are stored together), creates the namespaces the items are the first to name, each an
  organization recorded as the source's, up to ``SOURCE_MAX_NEW_NAMESPACES`` per source (past it
  the item is refused, saying so);
- stores every tag push of the transaction in one set-wise ``record_tag_pushes`` (the tag →
  digest window; a re-post of an event id notifies once);
- stores each event of another kind (``SourceEvent``: a scan, a mirror sync) with
  ``record_event``, its ``external_id`` deduplicating re-posts;
- records every refused event as an ``IngestRejection`` row (superusers list them at
  ``/registry/rejections``) and logs it, so one bad event never blocks the sender's later ones.

**Events of other kinds for repositories that do not exist yet** are treated as pushes are: the
repository (and its namespace, under the same rules) is created on its first event, whatever its
kind. A source's events are not ordered (Harbor sends each from its own job, zot from its own
goroutine), so a scan's result can arrive before the push of the image it scanned; refusing it
would lose it. A scan event naming a digest but no tags gets the tags whose last push was that
digest (Harbor's scan events usually carry no tag).

The receipt counts the batch's events: ``accepted`` (stored, notifying), ``duplicates`` (seen
before), ``ignored`` (nothing of ours fits) and ``rejected`` (see ``/registry/rejections``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import cast

from fastapi import Request
from pydantic import BaseModel
from sqlalchemy import bindparam, func, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import AccountError, AlreadyExists, InvalidName, create_organization, split_repository
from regnotify.api.auth import UNAUTHORIZED_HEADERS, Principal, mark_token_used
from regnotify.api.context import Services
from regnotify.api.errors import ApiError
from regnotify.config import Settings
from regnotify.db.models import ApiToken, IngestRejection, Organization, Repository, TagPush, User
from regnotify.events import EventError, get_event_kind
from regnotify.ingest.batch import Rejection, SourceBatch, SourceEvent
from regnotify.ingest.distribution import excerpt
from regnotify.ingest.pushes import ensure_repository, record_tag_pushes
from regnotify.ingest.recording import EventConflict, record_event, repository_ref

log = logging.getLogger(__name__)

__all__ = ["Receipt", "Rejection", "SourceBatch", "SourceEvent", "source_name", "store_batch"]

MAX_RESOLVED_TAGS = 50  # tags a digest-only scan event is given from the tags pushed with that digest


class Receipt(BaseModel):
    accepted: int = 0  # tag pushes that became repo_push events, and other events stored
    duplicates: int = 0  # seen before (same event id, or same tag → digest within the window)
    ignored: int = 0  # pulls, mounts, deletes, blob pushes, pushes by digest: nothing of ours fits
    rejected: int = 0  # could not be used; see /registry/rejections


def source_name(principal: Principal, channel: str, *, how_to_send: str, senders: str = "sources") -> str:
    """The name events of this caller are stored under (``<channel>:<token name>``), once it is
    sure the caller is a source: a 401 saying ``how_to_send`` the token without one, a 403 for a
    user's token (``senders``: who posts here, e.g. "registries")."""
    if principal.service is None:
        if principal.is_anonymous:
            raise ApiError(401, how_to_send, headers=UNAUTHORIZED_HEADERS)
        raise ApiError(
            403, f"{senders} post with a source token (regnotify source create NAME), not a user's"
        )
    return f"{channel}:{principal.service}"


@dataclass
class _Posted:
    """One request's batch, judged before it takes a turn at the database (which does only writes)."""

    principal: Principal
    settings: Settings
    batch: SourceBatch
    known_namespaces: set[str]  # the application's: namespaces seen to exist (none is ever deleted)

    def repositories(self) -> list[str]:
        """The repository of each item: the pushes', then the other events'."""
        return [push.repository for push in self.batch.pushes] + [e.repository for e in self.batch.events]


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
        return None  # refused when it is stored, with the reason


def _out_of_scope(principal: Principal, batch: SourceBatch) -> None:
    """Move the batch's items outside a scoped source token's namespaces to its rejections."""
    if principal.namespaces is None:
        return
    pushes, raws = [], []
    for push, raw in zip(batch.pushes, batch.push_raws, strict=True):
        namespace = _namespace(push.repository)
        if namespace is not None and not principal.may_post_to(namespace):
            batch.rejected.append(
                Rejection(push.external_id, principal.out_of_scope(namespace), excerpt(raw))
            )
        else:
            pushes.append(push)
            raws.append(raw)
    events = []
    for event in batch.events:
        namespace = _namespace(event.repository)
        if namespace is not None and not principal.may_post_to(namespace):
            batch.rejected.append(
                Rejection(event.external_id, principal.out_of_scope(namespace), excerpt(event.raw))
            )
        else:
            events.append(event)
    batch.pushes, batch.push_raws, batch.events = pushes, raws, events


async def _claim_namespaces(session: AsyncSession, posted: list[_Posted]) -> list[dict[int, str]]:
    """Create the namespaces the batches' items are the first to name, each as an organization
    recorded as its source's; a source past ``SOURCE_MAX_NEW_NAMESPACES`` creates none. For each
    batch, its items refused that way (by index in ``_Posted.repositories``) and why.

    Outside the transaction only the names found taken are remembered, so a batch run again alone
    decides afresh."""
    refused: list[dict[int, str]] = [{} for _ in posted]
    repositories = [one.repositories() for one in posted]
    named = {
        namespace for names in repositories for name in names if (namespace := _namespace(name)) is not None
    }
    if not named:
        return refused
    known = posted[0].known_namespaces  # the batches of one application
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
            one.principal.token_id
            for one, names in zip(posted, repositories, strict=True)
            if one.principal.token_id is not None
            and any((namespace := _namespace(name)) is not None and namespace not in taken for name in names)
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
    limit = posted[0].settings.source_max_new_namespaces
    for one, names, refusals in zip(posted, repositories, refused, strict=True):
        token_id = one.principal.token_id
        for index, name in enumerate(names):
            namespace = _namespace(name)
            if namespace is None or namespace in taken or token_id is None:
                continue
            if created[token_id] >= limit:
                refusals[index] = (
                    f"namespace {namespace} does not exist, and source {one.principal.service} has "
                    f"created {created[token_id]} namespaces, the most one source may "
                    f"(REGNOTIFY_SOURCE_MAX_NEW_NAMESPACES={limit}): create it (regnotify org create)"
                )
                continue
            try:
                async with session.begin_nested():
                    await create_organization(session, namespace, created_by_token_id=token_id)
            except (AlreadyExists, IntegrityError):  # another transaction took the name meanwhile
                pass
            except AccountError:  # not a valid organization name: storing the item says so
                continue
            else:
                created[token_id] += 1
            taken.add(namespace)
    return refused


async def _tags_pushed_with(session: AsyncSession, repository: Repository, digest: str) -> list[str]:
    found = await session.scalars(
        select(TagPush.tag)
        .where(TagPush.repository_id == repository.id, TagPush.digest == digest)
        .order_by(TagPush.tag)
        .limit(MAX_RESOLVED_TAGS)
    )
    return list(found)


async def _record_other(
    session: AsyncSession, event: SourceEvent, settings: Settings, source: str
) -> bool | str:
    """Store one event of another kind than repo_push: True when stored, False when it was stored
    before (the same external id and event), else why it could not be used."""
    kind = get_event_kind(event.kind)  # a parser's own choice: an unknown name is a bug, not input
    try:
        repository = await ensure_repository(session, event.repository)
    except AccountError as exc:
        return str(exc)
    data = dict(event.data)
    digest = data.get("digest")
    if "tags" in kind.fields and not data.get("tags") and isinstance(digest, str) and digest:
        data["tags"] = await _tags_pushed_with(session, repository, digest)
    try:
        payload = kind.build_payload(
            repository_ref(repository, settings, registry_host=event.registry_host), data
        )
        recorded = await record_event(
            session, repository, kind, payload, source=source, external_id=event.external_id
        )
    except (EventError, EventConflict) as exc:
        return str(exc)
    return not recorded.duplicate


async def _store(session: AsyncSession, posted: list[_Posted]) -> list[Receipt]:
    """Store the batches of one shared transaction: every push of them in one set-wise call."""
    receipts = [Receipt(ignored=one.batch.ignored) for one in posted]
    refused = await _claim_namespaces(session, posted)
    pushes = [
        push
        for one, refusals in zip(posted, refused, strict=True)
        for index, push in enumerate(one.batch.pushes)
        if index not in refusals
    ]
    # The batches of one application, so one set of settings.
    settings = posted[0].settings
    outcomes = iter(await record_tag_pushes(session, pushes, settings=settings))
    for one, receipt, refusals in zip(posted, receipts, refused, strict=True):
        batch = one.batch
        rejected = list(batch.rejected)
        for index, (push, raw) in enumerate(zip(batch.pushes, batch.push_raws, strict=True)):
            if index in refusals:
                rejected.append(Rejection(push.external_id, refusals[index], excerpt(raw)))
                continue
            outcome = next(outcomes)
            if outcome.error is not None:
                rejected.append(Rejection(push.external_id, str(outcome.error), excerpt(raw)))
            elif outcome.accepted:
                receipt.accepted += 1
            else:
                receipt.duplicates += 1
        for index, event in enumerate(batch.events, start=len(batch.pushes)):
            stored: bool | str | None = refusals.get(index)
            if stored is None:
                stored = await _record_other(session, event, settings, batch.source)
            if isinstance(stored, str):
                rejected.append(Rejection(event.external_id, stored, excerpt(event.raw)))
            elif stored:
                receipt.accepted += 1
            else:
                receipt.duplicates += 1
        source = batch.source
        channel = source.partition(":")[0]
        for rejection in rejected:
            receipt.rejected += 1
            log.warning(
                "%s event %s from %s not used: %s",
                channel,
                rejection.event_id or "(no id)",
                source,
                rejection.reason,
            )
            session.add(
                IngestRejection(
                    source=source,
                    external_id=rejection.event_id,
                    reason=rejection.reason,
                    excerpt=rejection.excerpt,
                )
            )
        await mark_token_used(session, one.principal)
    return receipts


async def store_batch(request: Request, principal: Principal, batch: SourceBatch) -> Receipt:
    """Store ``batch`` (posted by ``principal``, a source) and say what became of its events."""
    svc: Services = request.app.state.services
    _out_of_scope(principal, batch)
    posted = _Posted(principal, svc.settings, batch, _known_namespaces(request))
    # Stored together with the batches other sources (or this one) post meanwhile.
    return await svc.group_commit.run(_store, posted)
