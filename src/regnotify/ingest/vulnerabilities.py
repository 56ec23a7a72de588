"""Vulnerability findings → ``vulnerability_found`` events, once per (repository, manifest, vulnerability).

A finding names its image by tags, by manifest digest, or both. The tags the event carries are
the given ones, else the tags whose latest push (TagPush) was that digest, else the digest
itself (as Quay sends for an untagged manifest). The manifest a sighting is keyed by is the
digest, else the digest the first tag was last pushed with, else the sorted tags themselves.
One vulnerability_found per new (repository, manifest, vulnerability id): re-importing the same
report notifies nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db.models import Repository, TagPush, VulnerabilitySighting
from regnotify.events import PayloadError, get_event_kind
from regnotify.events.common import TAG_PATTERN
from regnotify.events.vulnerability import MAX_TAGS
from regnotify.ingest.recording import Recorded, record_event, repository_ref
from regnotify.ingest.reports import digest_of

MAX_KEY = 255  # the sighting's manifest and vulnerability id columns


@dataclass(frozen=True)
class Target:
    """What a finding is about: the tags its event names and the manifest its sighting is keyed by."""

    tags: list[str]
    manifest: str


def _distinct(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(tags))


def _tags_key(tags: list[str]) -> str:
    key = "tags:" + ",".join(sorted(set(tags)))
    if len(key) <= MAX_KEY:
        return key
    return "tags:sha256:" + hashlib.sha256(key.encode()).hexdigest()


async def resolve_target(
    session: AsyncSession, repository: Repository, *, tags: list[str] | None, digest: str | None
) -> Target:
    """The event's tags and the sighting's manifest for a finding about ``tags`` and/or ``digest``."""
    given = _distinct(tags or [])
    if not given and not digest:
        raise PayloadError("a finding needs the tags or the manifest digest it was found in")
    if digest is not None and digest_of(digest) != digest:
        raise PayloadError(f"digest must be a manifest digest such as sha256:<hex>, at most {MAX_KEY} long")
    for tag in given:
        if not TAG_PATTERN.fullmatch(tag):
            raise PayloadError(
                f"invalid tag name {tag[:140]!r}: a tag is 1 to 128 letters, digits, '_', '.' or '-' "
                "and does not start with '.' or '-'"
            )
    if given:
        event_tags = given[:MAX_TAGS]
    else:
        assert digest is not None
        pushed = await session.scalars(
            select(TagPush.tag)
            .where(TagPush.repository_id == repository.id, TagPush.digest == digest)
            .order_by(TagPush.tag)
            .limit(MAX_TAGS)
        )
        event_tags = list(pushed) or [digest]
    manifest = digest
    if manifest is None:
        manifest = await session.scalar(
            select(TagPush.digest).where(TagPush.repository_id == repository.id, TagPush.tag == given[0])
        )
    return Target(tags=event_tags, manifest=manifest or _tags_key(given))


async def record_finding_at(
    session: AsyncSession,
    repository: Repository,
    target: Target,
    *,
    vulnerability: dict[str, Any],
    settings: Settings,
    source: str,
    vulnerable_index_report_created: bool = False,
) -> Recorded | None:
    """The finding's event for an already resolved ``target``; None when it was seen before."""
    kind = get_event_kind("vulnerability_found")
    data: dict[str, Any] = {"tags": target.tags, "vulnerability": vulnerability}
    if vulnerable_index_report_created:
        data["vulnerable_index_report_created"] = "true"  # a string, as Quay's security worker sends it
    payload = kind.build_payload(repository_ref(repository, settings), data)  # PayloadError if invalid
    vulnerability_id = payload["vulnerability"]["id"]
    if len(vulnerability_id) > MAX_KEY or "\x00" in vulnerability_id:
        raise PayloadError(f"vulnerability.id must be at most {MAX_KEY} characters, without NUL")
    try:
        async with session.begin_nested():
            session.add(
                VulnerabilitySighting(
                    repository_id=repository.id, manifest=target.manifest, vulnerability_id=vulnerability_id
                )
            )
    except IntegrityError:  # seen before, perhaps by a concurrent import of the same report
        return None
    return await record_event(session, repository, kind, payload, source=source)


async def record_finding(
    session: AsyncSession,
    repository: Repository,
    *,
    tags: list[str] | None,
    digest: str | None,
    vulnerability: dict[str, Any],
    settings: Settings,
    source: str,
    vulnerable_index_report_created: bool = False,
) -> Recorded | None:
    """Store a ``vulnerability_found`` event for a new finding and queue its deliveries.

    Returns None when this repository's manifest already had this vulnerability (nothing is
    notified twice). PayloadError (an EventError) says what is wrong with the finding.
    """
    target = await resolve_target(session, repository, tags=tags, digest=digest)
    return await record_finding_at(
        session,
        repository,
        target,
        vulnerability=vulnerability,
        settings=settings,
        source=source,
        vulnerable_index_report_created=vulnerable_index_report_created,
    )
