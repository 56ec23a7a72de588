"""Creating and finding users, organizations, teams, repositories and grants."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts.errors import AlreadyExists, InvalidName, NotFound
from regnotify.accounts.names import check_namespace, check_team_name, split_repository
from regnotify.accounts.passwords import hash_password
from regnotify.accounts.permissions import Role
from regnotify.db.models import (
    Organization,
    Repository,
    RepositoryPermission,
    Team,
    TeamMember,
    User,
)


async def find_user(session: AsyncSession, username: str) -> User | None:
    return await session.scalar(select(User).where(User.username == username))


async def find_organization(session: AsyncSession, name: str) -> Organization | None:
    return await session.scalar(select(Organization).where(Organization.name == name))


async def find_team(session: AsyncSession, organization: str, team: str) -> Team | None:
    return await session.scalar(
        select(Team)
        .join(Organization, Organization.id == Team.organization_id)
        .where(Organization.name == organization, Team.name == team)
    )


async def find_repository(session: AsyncSession, full_name: str) -> Repository | None:
    try:
        namespace, name = split_repository(full_name)
    except InvalidName:
        return None
    return await session.scalar(
        select(Repository).where(Repository.namespace == namespace, Repository.name == name)
    )


async def _namespace_is_free(session: AsyncSession, name: str) -> None:
    if await find_user(session, name) or await find_organization(session, name):
        raise AlreadyExists(f"namespace {name!r} is already taken by a user or an organization")


async def create_user(
    session: AsyncSession,
    username: str,
    *,
    password: str | None = None,
    email: str | None = None,
    superuser: bool = False,
) -> User:
    check_namespace(username, "user")
    await _namespace_is_free(session, username)
    if password is not None and len(password) < 8:
        raise InvalidName("password too short: use at least 8 characters")
    user = User(
        username=username,
        email=email,
        password_hash=hash_password(password) if password else None,
        is_superuser=superuser,
    )
    session.add(user)
    await session.flush()
    return user


async def create_organization(
    session: AsyncSession,
    name: str,
    *,
    admins: list[User] | None = None,
    created_by_token_id: int | None = None,
) -> Organization:
    """An organization with an ``owners`` admin team holding ``admins`` (Quay's default team).

    ``created_by_token_id``: the source token whose event creates it (counted against that
    source's limit on new namespaces)."""
    check_namespace(name, "organization")
    await _namespace_is_free(session, name)
    organization = Organization(name=name, created_by_token_id=created_by_token_id)
    session.add(organization)
    await session.flush()
    if admins:
        owners = await create_team(session, name, "owners", role="admin")
        for user in admins:
            await add_team_member(session, owners, user)
    return organization


async def create_team(session: AsyncSession, organization: str, name: str, *, role: str = "member") -> Team:
    check_team_name(name)
    if role not in ("member", "admin"):
        raise InvalidName(f"unknown team role {role!r}: use member or admin")
    org = await find_organization(session, organization)
    if org is None:
        raise NotFound(f"no organization named {organization!r}")
    if await find_team(session, organization, name):
        raise AlreadyExists(f"team {name!r} already exists in {organization!r}")
    team = Team(organization_id=org.id, name=name, role=role)
    session.add(team)
    await session.flush()
    return team


async def add_team_member(session: AsyncSession, team: Team, user: User) -> None:
    existing = await session.get(TeamMember, (team.id, user.id))
    if existing is None:
        session.add(TeamMember(team_id=team.id, user_id=user.id))
        await session.flush()


async def create_repository(
    session: AsyncSession, full_name: str, *, visibility: str = "private"
) -> Repository:
    """A repository under an existing user's or organization's namespace."""
    namespace, name = split_repository(full_name)
    if visibility not in ("private", "public"):
        raise InvalidName(f"unknown visibility {visibility!r}: use private or public")
    if await find_repository(session, full_name):
        raise AlreadyExists(f"repository {full_name} already exists")
    owner = await find_user(session, namespace)
    org = None if owner else await find_organization(session, namespace)
    if owner is None and org is None:
        raise NotFound(
            f"no user or organization named {namespace!r}: create it first "
            f"(regnotify user create / org create)"
        )
    repository = Repository(
        namespace=namespace,
        name=name,
        owner_id=owner.id if owner else None,
        organization_id=org.id if org else None,
        visibility=visibility,
    )
    session.add(repository)
    await session.flush()
    return repository


async def grant(
    session: AsyncSession,
    repository: Repository,
    role: Role,
    *,
    user: User | None = None,
    team: Team | None = None,
) -> RepositoryPermission:
    """Give ``user`` or ``team`` exactly ``role`` on ``repository`` (replacing an earlier grant)."""
    if (user is None) == (team is None):
        raise ValueError("grant to exactly one of user or team")
    if team is not None and team.organization_id != repository.organization_id:
        raise InvalidName(f"team {team.name!r} belongs to another organization than {repository.full_name}")
    query = select(RepositoryPermission).where(RepositoryPermission.repository_id == repository.id)
    if user is not None:
        query = query.where(RepositoryPermission.user_id == user.id)
    else:
        assert team is not None
        query = query.where(RepositoryPermission.team_id == team.id)
    permission = await session.scalar(query)
    if permission is None:
        permission = RepositoryPermission(
            repository_id=repository.id,
            user_id=user.id if user else None,
            team_id=team.id if team else None,
            role=role.name.lower(),
        )
        session.add(permission)
    else:
        permission.role = role.name.lower()
    await session.flush()
    return permission
