"""Read-only account look-ups for Quay's account routes: a user's organizations, an organization's
teams with their counts, users and teams by name prefix, and who may see an organization at all."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import Organization, Repository, RepositoryPermission, Team, TeamMember, User

MAX_MATCHES = 10  # Quay's autocomplete returns at most this many users, and as many teams


@dataclass(frozen=True)
class Membership:
    """An organization a user belongs to (through any of its teams), and whether they administer it."""

    organization: Organization
    is_admin: bool


@dataclass(frozen=True)
class TeamSummary:
    """A team with how many users are in it and how many repositories are granted to it."""

    team: Team
    member_count: int
    repo_count: int


@dataclass(frozen=True)
class OrganizationAccess:
    """What one user may know about one organization.

    ``is_member``: in any of its teams; ``is_admin``: in one of its admin teams; ``reads_repository``:
    holds at least read on one of its repositories (always False when membership already decides).
    """

    superuser: bool
    is_member: bool
    is_admin: bool
    reads_repository: bool

    @property
    def visible(self) -> bool:
        """Whether the organization exists for this user at all (anyone else is told it does not)."""
        return self.superuser or self.is_member or self.reads_repository

    @property
    def sees_teams(self) -> bool:
        return self.superuser or self.is_member

    @property
    def administers(self) -> bool:
        return self.superuser or self.is_admin


def _starts_with(column, prefix: str):  # type: ignore[no-untyped-def]
    """``column`` starts with ``prefix``, case-insensitively, LIKE's wildcards in ``prefix`` escaped."""
    escaped = prefix.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return func.lower(column).like(escaped + "%", escape="\\")


def _user_teams(user: User):  # type: ignore[no-untyped-def]
    return select(TeamMember.team_id).where(TeamMember.user_id == user.id)


async def user_organizations(session: AsyncSession, user: User) -> list[Membership]:
    """The organizations ``user`` is in a team of, by name, each saying whether they administer it."""
    rows = await session.execute(
        select(Organization, Team.role)
        .join(Team, Team.organization_id == Organization.id)
        .where(Team.id.in_(_user_teams(user)))
        .order_by(Organization.name)
    )
    admin: dict[int, bool] = {}
    organizations: dict[int, Organization] = {}
    for organization, role in rows:
        organizations[organization.id] = organization
        admin[organization.id] = admin.get(organization.id, False) or role == "admin"
    return [Membership(organization, admin[key]) for key, organization in organizations.items()]


async def organization_access(
    session: AsyncSession, user: User, organization: Organization
) -> OrganizationAccess:
    """Whether ``user`` is a member or an admin of ``organization``, or reads one of its repositories.

    The repository check mirrors ``user_role`` for an organization's repositories: a public
    repository, a grant to the user, or a grant to one of their teams gives read at least.
    """
    roles = list(
        await session.scalars(
            select(Team.role).where(Team.organization_id == organization.id, Team.id.in_(_user_teams(user)))
        )
    )
    is_member = bool(roles)
    is_admin = "admin" in roles
    reads_repository = False
    if not (user.is_superuser or is_member):
        granted = select(RepositoryPermission.repository_id).where(
            or_(RepositoryPermission.user_id == user.id, RepositoryPermission.team_id.in_(_user_teams(user)))
        )
        readable = (
            exists()
            .where(Repository.organization_id == organization.id)
            .where(or_(Repository.visibility == "public", Repository.id.in_(granted)))
        )
        reads_repository = bool(await session.scalar(select(readable)))
    return OrganizationAccess(user.is_superuser, is_member, is_admin, reads_repository)


async def organization_teams(session: AsyncSession, organization: Organization) -> list[TeamSummary]:
    """The organization's teams in the order they were made, with member and repository counts."""
    members = select(func.count()).select_from(TeamMember).where(TeamMember.team_id == Team.id)
    repositories = (
        select(func.count()).select_from(RepositoryPermission).where(RepositoryPermission.team_id == Team.id)
    )
    rows = await session.execute(
        select(Team, members.scalar_subquery(), repositories.scalar_subquery())
        .where(Team.organization_id == organization.id)
        .order_by(Team.id)
    )
    return [TeamSummary(team, int(member_count), int(repo_count)) for team, member_count, repo_count in rows]


async def user_team_ids(session: AsyncSession, user: User, organization: Organization) -> set[int]:
    """The ids of the organization's teams ``user`` is in."""
    rows = await session.scalars(
        select(Team.id).where(Team.organization_id == organization.id, Team.id.in_(_user_teams(user)))
    )
    return set(rows)


async def teams_by_prefix(
    session: AsyncSession, organization: Organization, prefix: str, limit: int = MAX_MATCHES
) -> list[Team]:
    """The organization's teams whose name starts with ``prefix``, by name."""
    rows = await session.scalars(
        select(Team)
        .where(Team.organization_id == organization.id, _starts_with(Team.name, prefix))
        .order_by(Team.name)
        .limit(limit)
    )
    return list(rows)


async def users_by_prefix(session: AsyncSession, prefix: str, limit: int = MAX_MATCHES) -> list[User]:
    """Users whose name starts with ``prefix`` (case-insensitively), by name."""
    rows = await session.scalars(
        select(User).where(_starts_with(User.username, prefix)).order_by(User.username).limit(limit)
    )
    return list(rows)


async def organization_members(
    session: AsyncSession, organization: Organization, users: Iterable[User]
) -> set[int]:
    """The ids of those of ``users`` who are in any team of the organization."""
    ids = [user.id for user in users]
    if not ids:
        return set()
    rows = await session.scalars(
        select(TeamMember.user_id)
        .join(Team, Team.id == TeamMember.team_id)
        .where(Team.organization_id == organization.id, TeamMember.user_id.in_(ids))
        .distinct()
    )
    return set(rows)
