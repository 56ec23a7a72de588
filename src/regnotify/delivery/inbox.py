"""In-app notices (the bell): fan-out of a delivery to the users a target stands for.

A user target gets one notice, a team target one per member who can read the repository, an
organization target one per organization admin. One notice per (delivery, user), so a retried
delivery never shows twice. Nobody who cannot read the repository is ever told about it.

As in Quay, a notice names an organization only when its target was one (kind ``org``): user and
team targets, and regnotify's own notices, have none.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import (
    Role,
    find_organization,
    find_repository,
    find_team,
    find_user,
    organization_admins,
    user_role,
)
from regnotify.db import Database
from regnotify.db.models import Delivery, InboxItem, Repository, TeamMember, User
from regnotify.db.upsert import dialect_of, insert_unless_present
from regnotify.methods.sending import Outgoing


async def _readers(session: AsyncSession, repository: Repository, users: list[User]) -> list[User]:
    return [user for user in users if await user_role(session, user, repository) >= Role.READ]


async def target_users(
    session: AsyncSession, repository: Repository, target_kind: str, target_name: str
) -> list[User]:
    """The users a quay_notification target stands for, limited to those who can read the repository."""
    if target_kind == "user":
        user = await find_user(session, target_name)
        return await _readers(session, repository, [user] if user else [])
    if target_kind == "team":
        team = await find_team(session, repository.namespace, target_name)
        if team is None:
            return []
        members = await session.scalars(
            select(User).join(TeamMember, TeamMember.user_id == User.id).where(TeamMember.team_id == team.id)
        )
        return await _readers(session, repository, list(members))
    if target_kind == "org":
        org = await find_organization(session, target_name)
        if org is None or org.id != repository.organization_id:
            return []
        return await _readers(session, repository, await organization_admins(session, org.id))
    return []


async def add_notices(
    session: AsyncSession,
    users: list[User],
    *,
    kind: str,
    metadata: dict[str, Any],
    repository_id: int | None,
    delivery_id: int | None,
    organization_id: int | None = None,
) -> int:
    """Insert one notice per user, skipping users who already have one for this delivery.

    ``organization_id`` is the notice's organization (Quay's): only for an organization target."""
    if not users:
        return 0
    rows = [
        {
            "uuid": str(uuid.uuid4()),
            "user_id": user.id,
            "repository_id": repository_id,
            "delivery_id": delivery_id,
            "organization_id": organization_id,
            "kind": kind,
            "metadata": metadata,
            "dismissed": False,
        }
        for user in users
    ]
    statement = insert_unless_present(
        dialect_of(session), InboxItem.__table__, ["delivery_id", "user_id"]
    ).values(rows)
    result = await session.execute(statement)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class DatabaseInbox:
    """The InboxWriter the worker uses: writes notices in their own short transaction."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def notify(self, *, target_kind: str, target_name: str, outgoing: Outgoing) -> int:
        async with self.db.write() as session:
            repository = await find_repository(session, outgoing.repository)
            if repository is None:
                return 0
            delivery_id = await session.scalar(
                select(Delivery.id).where(Delivery.uuid == outgoing.delivery_id)
            )
            users = await target_users(session, repository, target_kind, target_name)
            # The event's payload (Quay's metadata) and the bell's sentence. Not which notification
            # sent it: that is for the repository's admins, and every reader of it may be told.
            metadata = {**outgoing.payload, "summary": outgoing.summary, "level": outgoing.level}
            await add_notices(
                session,
                users,
                kind=outgoing.event,
                metadata=metadata,
                repository_id=repository.id,
                delivery_id=delivery_id,
                # target_users reaches an org target's admins only when it is the repository's
                # organization, so that is the organization the notices name
                organization_id=repository.organization_id if target_kind == "org" else None,
            )
            return len(users)
