"""Reading and dismissing a user's in-app notices (the bell), for pages."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import InboxItem, User


async def count_undismissed(session: AsyncSession, user: User) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(InboxItem)
            .where(InboxItem.user_id == user.id, InboxItem.dismissed.is_(False))
        )
        or 0
    )


async def undismissed(session: AsyncSession, user: User, limit: int = 20) -> list[InboxItem]:
    """The user's undismissed notices, newest first."""
    rows = await session.scalars(
        select(InboxItem)
        .where(InboxItem.user_id == user.id, InboxItem.dismissed.is_(False))
        .order_by(InboxItem.created_at.desc(), InboxItem.id.desc())
        .limit(limit)
    )
    return list(rows)


async def dismiss(session: AsyncSession, user: User, notice_uuid: str) -> bool:
    """Dismiss one of the user's own notices; False when the user has no notice with this id."""
    result = await session.execute(
        update(InboxItem)
        .where(InboxItem.uuid == notice_uuid, InboxItem.user_id == user.id)
        .values(dismissed=True)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def dismiss_all(session: AsyncSession, user: User) -> int:
    result = await session.execute(
        update(InboxItem)
        .where(InboxItem.user_id == user.id, InboxItem.dismissed.is_(False))
        .values(dismissed=True)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
