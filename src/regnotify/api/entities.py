"""Quay's entity search (the user and team autocomplete): users, teams and organizations by name prefix.

Signed-in users only. Teams, and whether each user found is a member, come only for an
organization ``namespace`` whose teams the caller sees (members, its admins, superusers); the
organization itself only when the caller administers it. For any other ``namespace``, existing
or not, the answer is the same users-only list, so it tells nothing about organizations the
caller cannot see. regnotify has no robot accounts, so none is ever listed.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import find_organization
from regnotify.accounts.errors import InvalidName
from regnotify.accounts.lookup import (
    OrganizationAccess,
    organization_access,
    organization_members,
    teams_by_prefix,
    users_by_prefix,
)
from regnotify.accounts.names import check_namespace
from regnotify.api.auth import CurrentPrincipal, signed_in_user
from regnotify.api.avatars import avatar
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.db.models import Organization, Team, User

router = APIRouter(tags=["entities"])
ServicesDep = Annotated[Services, Depends(services)]

MAX_PREFIX = 255
# Every character a user, organization or team name may hold: a prefix with any other matches nothing.
NAME_CHARACTERS = re.compile(r"[a-z0-9._-]*")
FALSE_VALUES = {"false", "0", "", "null"}  # Quay's truthy_bool: anything else is true


def truthy(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in FALSE_VALUES


async def _organization_of(
    session: AsyncSession, user: User, namespace: str
) -> tuple[Organization, OrganizationAccess] | None:
    """The organization ``namespace`` when the caller sees its teams, else None (missing or not)."""
    try:
        check_namespace(namespace, "organization")
    except InvalidName:
        return None
    organization = await find_organization(session, namespace)
    if organization is None:
        return None
    access = await organization_access(session, user, organization)
    return (organization, access) if access.sees_teams else None


@router.get("/entities/{prefix}")
async def search_entities(
    prefix: str,
    principal: CurrentPrincipal,
    svc: ServicesDep,
    namespace: str = "",
    include_teams: Annotated[str | None, Query(alias="includeTeams")] = None,
    include_orgs: Annotated[str | None, Query(alias="includeOrgs")] = None,
) -> dict[str, Any]:
    """``{"results": [...]}``: matching teams of ``namespace`` (with ``includeTeams``), then up to ten
    users by name, then ``namespace`` itself (with ``includeOrgs``). The prefix is lower-cased and its
    spaces dropped, as Quay does."""
    user = signed_in_user(principal)
    if len(prefix) > MAX_PREFIX:
        raise ApiError(400, f"the prefix is longer than {MAX_PREFIX} characters: no name is that long")
    prefix = prefix.replace(" ", "").lower()
    if not NAME_CHARACTERS.fullmatch(prefix):
        return {"results": []}  # no name holds such a character: nothing to look up
    async with svc.db.read() as session:
        found = await _organization_of(session, user, namespace) if namespace else None
        teams: list[Team] = []
        if found is not None and truthy(include_teams):
            teams = await teams_by_prefix(session, found[0], prefix)
        users = await users_by_prefix(session, prefix)
        members = await organization_members(session, found[0], users) if found is not None else set()
    results: list[dict[str, Any]] = [
        {"name": team.name, "kind": "team", "is_org_member": True, "avatar": avatar(team.name, "team")}
        for team in teams
    ]
    for match in users:
        view: dict[str, Any] = {
            "name": match.username,
            "kind": "user",
            "is_robot": False,
            "avatar": avatar(match.username, "user"),
        }
        if found is not None:
            view["is_org_member"] = match.id in members
        results.append(view)
    if found is not None and truthy(include_orgs):
        organization, access = found
        if access.administers and organization.name.startswith(prefix):
            results.append(
                {
                    "name": organization.name,
                    "kind": "org",
                    "is_org_member": True,
                    "avatar": avatar(organization.name, "org"),
                }
            )
    return {"results": results}
