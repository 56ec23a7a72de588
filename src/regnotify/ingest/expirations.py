"""Recording when a tag expires (``PUT …/tag/{tag}/expiration``), which the expiry scan
(``jobs.expiry``) reads to queue ``repo_image_expiry`` events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import Repository, TagExpiration


async def set_expiration(
    session: AsyncSession, repository: Repository, tag: str, expires_at: datetime | None
) -> None:
    """Record (or, with None, clear) when ``tag`` expires."""
    row = await session.scalar(
        select(TagExpiration).where(TagExpiration.repository_id == repository.id, TagExpiration.tag == tag)
    )
    if expires_at is None:
        if row is not None:
            await session.execute(delete(TagExpiration).where(TagExpiration.id == row.id))
        return
    if row is None:
        session.add(TagExpiration(repository_id=repository.id, tag=tag, expires_at=expires_at))
    else:
        row.expires_at = expires_at
    await session.flush()
