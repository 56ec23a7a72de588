"""The repositories a user can read, for listing: found broadly in SQL, then checked with ``user_role``."""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts.permissions import Role, user_role
from regnotify.db.models import Repository, RepositoryPermission, Team, TeamMember, User

MAX_LISTED = 200


def _search_condition(search: str):  # type: ignore[no-untyped-def]
    pattern = "%" + search.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return (Repository.namespace + "/" + Repository.name).like(pattern, escape="\\")


async def readable_repositories(
    session: AsyncSession, user: User, search: str = "", limit: int = MAX_LISTED
) -> list[tuple[Repository, Role]]:
    """Repositories ``user`` holds at least read on, by full name, with the role held.

    The SQL only narrows the candidates (ownership, grants, team grants, organization admin
    teams, public repositories); every candidate is then checked with ``user_role``, the
    function the API's permission checks use, so the list never disagrees with them.
    """
    query = select(Repository)
    if not user.is_superuser:
        user_teams = select(TeamMember.team_id).where(TeamMember.user_id == user.id)
        admin_orgs = select(Team.organization_id).where(Team.role == "admin", Team.id.in_(user_teams))
        granted = select(RepositoryPermission.repository_id).where(
            or_(RepositoryPermission.user_id == user.id, RepositoryPermission.team_id.in_(user_teams))
        )
        query = query.where(
            or_(
                Repository.visibility == "public",
                Repository.owner_id == user.id,
                Repository.organization_id.in_(admin_orgs),
                Repository.id.in_(granted),
            )
        )
    search = search.strip()
    if search:
        query = query.where(_search_condition(search))
    candidates = await session.scalars(query.order_by(Repository.namespace, Repository.name).limit(limit))
    listed = []
    for repository in candidates:
        role = await user_role(session, user, repository)
        if role >= Role.READ:
            listed.append((repository, role))
    return listed
