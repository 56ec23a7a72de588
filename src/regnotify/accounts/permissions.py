"""Who may do what on a repository: the effective role of a user, a team, or nobody."""

from __future__ import annotations

from enum import IntEnum

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import Repository, RepositoryPermission, Team, TeamMember, User


class Role(IntEnum):
    """Repository roles, ordered: each includes the ones below it."""

    NONE = 0
    READ = 1
    WRITE = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        try:
            role = cls[name.upper()]
        except KeyError:
            role = cls.NONE
        if role is cls.NONE:
            raise ValueError(f"unknown role {name!r}: use read, write or admin")
        return role


def _public_floor(repository: Repository) -> Role:
    return Role.READ if repository.visibility == "public" else Role.NONE


async def is_organization_admin(session: AsyncSession, user: User, organization_id: int) -> bool:
    """Members of an admin-role team administer the organization and all its repositories."""
    query = select(
        exists()
        .where(TeamMember.team_id == Team.id)
        .where(
            Team.organization_id == organization_id,
            Team.role == "admin",
            TeamMember.user_id == user.id,
        )
    )
    return bool(await session.scalar(query))


async def user_role(session: AsyncSession, user: User | None, repository: Repository) -> Role:
    """The strongest role ``user`` holds on ``repository`` by any path (anonymous when None)."""
    floor = _public_floor(repository)
    if user is None:
        return floor
    if user.is_superuser or repository.owner_id == user.id:
        return Role.ADMIN
    if repository.organization_id is not None and await is_organization_admin(
        session, user, repository.organization_id
    ):
        return Role.ADMIN
    user_teams = select(TeamMember.team_id).where(TeamMember.user_id == user.id)
    grants = await session.scalars(
        select(RepositoryPermission.role).where(
            RepositoryPermission.repository_id == repository.id,
            or_(
                RepositoryPermission.user_id == user.id,
                RepositoryPermission.team_id.in_(user_teams),
            ),
        )
    )
    return max([floor, *(Role.parse(role) for role in grants)])


async def team_role(session: AsyncSession, team: Team, repository: Repository) -> Role:
    """What every member of ``team`` holds on ``repository`` through the team itself."""
    floor = _public_floor(repository)
    if team.organization_id != repository.organization_id:
        return floor
    if team.role == "admin":
        return Role.ADMIN
    grant = await session.scalar(
        select(RepositoryPermission.role).where(
            RepositoryPermission.repository_id == repository.id,
            RepositoryPermission.team_id == team.id,
        )
    )
    return max(floor, Role.parse(grant)) if grant else floor


async def organization_admins(session: AsyncSession, organization_id: int) -> list[User]:
    """Members of the organization's admin-role teams."""
    rows = await session.scalars(
        select(User)
        .join(TeamMember, TeamMember.user_id == User.id)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.organization_id == organization_id, Team.role == "admin")
        .distinct()
        .order_by(User.id)
    )
    return list(rows)


async def repository_admins(session: AsyncSession, repository: Repository) -> list[User]:
    """Everyone who administers ``repository`` by ownership, organization or grant (not superusers)."""
    admins: dict[int, User] = {}
    if repository.owner_id is not None:
        owner = await session.get(User, repository.owner_id)
        if owner is not None:
            admins[owner.id] = owner
    if repository.organization_id is not None:
        for user in await organization_admins(session, repository.organization_id):
            admins[user.id] = user
    granted_teams = select(RepositoryPermission.team_id).where(
        RepositoryPermission.repository_id == repository.id, RepositoryPermission.role == "admin"
    )
    granted = await session.scalars(
        select(User)
        .outerjoin(TeamMember, TeamMember.user_id == User.id)
        .where(
            or_(
                User.id.in_(
                    select(RepositoryPermission.user_id).where(
                        RepositoryPermission.repository_id == repository.id,
                        RepositoryPermission.role == "admin",
                    )
                ),
                TeamMember.team_id.in_(granted_teams),
            )
        )
    )
    for user in granted:
        admins[user.id] = user
    return [admins[key] for key in sorted(admins)]
