"""What happened in a repository lately, for its page: recent events (optionally about one tag), builds."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import Build, Event, Repository
from regnotify.events.reading import strings

TAG_FIELDS = ("updated_tags", "tags", "docker_tags")
TAG_SCAN = 200  # events searched for a tag: the page shows recent history, not an archive


def event_tags(event: Event) -> list[str]:
    """The tags an event's payload names (pushed, built, vulnerable or expiring)."""
    for key in TAG_FIELDS:
        tags = strings(event.payload, key)
        if tags:
            return tags
    tag = event.payload.get("tag") if isinstance(event.payload, dict) else None
    return [tag] if isinstance(tag, str) else []


async def recent_events(
    session: AsyncSession, repository: Repository, *, limit: int = 20, tag: str | None = None
) -> list[Event]:
    """The repository's newest real events (test events left out), newest first; only those naming
    ``tag`` when it is given."""
    rows = await session.scalars(
        select(Event)
        .where(Event.repository_id == repository.id, Event.is_test.is_(False))
        .order_by(Event.received_at.desc(), Event.id.desc())
        .limit(TAG_SCAN if tag else limit)
    )
    events = list(rows)
    if tag:
        events = [event for event in events if tag in event_tags(event)]
    return events[:limit]


async def recent_builds(session: AsyncSession, repository: Repository, *, limit: int = 20) -> list[Build]:
    rows = await session.scalars(
        select(Build)
        .where(Build.repository_id == repository.id)
        .order_by(Build.created_at.desc(), Build.id.desc())
        .limit(limit)
    )
    return list(rows)
