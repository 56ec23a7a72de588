"""Quay's organization read routes: one organization (getOrganization), and its robots (none here).

Who sees an organization: superusers, members of any of its teams, and users who hold at least
read on one of its repositories (a public repository counts: its path already names the
organization). Members, organization admins and superusers also get its teams; the others get
the organization without them. Anyone else is told ``404 no organization X``, exactly as for an
organization that does not exist, so that names do not leak. Anonymous callers get a 401 and
service tokens a 403 on every route here.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import find_organization
from regnotify.accounts.errors import InvalidName
from regnotify.accounts.lookup import (
    OrganizationAccess,
    TeamSummary,
    organization_access,
    organization_teams,
    user_team_ids,
)
from regnotify.accounts.names import check_namespace
from regnotify.api.auth import CurrentPrincipal, signed_in_user
from regnotify.api.avatars import avatar
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError
from regnotify.api.users import no_robot
from regnotify.db.models import Organization, User

router = APIRouter(tags=["organizations"])
ServicesDep = Annotated[Services, Depends(services)]


def _team_view(summary: TeamSummary, can_view: bool) -> dict[str, Any]:
    team = summary.team
    return {
        "name": team.name,
        "description": "",
        "role": team.role,
        "avatar": avatar(team.name, "team"),
        "can_view": can_view,
        "repo_count": summary.repo_count,
        "member_count": summary.member_count,
        "is_synced": False,
    }


async def visible_organization(
    session: AsyncSession, user: User, name: str
) -> tuple[Organization, OrganizationAccess]:
    """The organization ``name`` and what ``user`` may know of it; 404 when it is missing or hidden."""
    missing = ApiError(404, f"no organization {name}")
    try:
        check_namespace(name, "organization")
    except InvalidName:
        raise missing from None  # no such name can exist: no need to ask the database
    organization = await find_organization(session, name)
    if organization is None:
        raise missing
    access = await organization_access(session, user, organization)
    if not access.visible:
        raise missing
    return organization, access


@router.get("/organization/{orgname}")
async def get_organization(orgname: str, principal: CurrentPrincipal, svc: ServicesDep) -> dict[str, Any]:
    """The organization in Quay's shape; its teams too for members, its admins and superusers."""
    user = signed_in_user(principal)
    async with svc.db.read() as session:
        organization, access = await visible_organization(session, user, orgname)
        view: dict[str, Any] = {
            "name": organization.name,
            "email": "",
            "avatar": avatar(organization.name, "org"),
            "is_admin": access.administers,
            "is_member": access.is_member,
        }
        if access.sees_teams:
            teams = await organization_teams(session, organization)
            mine = set() if access.administers else await user_team_ids(session, user, organization)
            view["teams"] = {
                summary.team.name: _team_view(summary, access.administers or summary.team.id in mine)
                for summary in teams
            }
            view["ordered_teams"] = [summary.team.name for summary in teams]
        return view


@router.get("/organization/{orgname}/robots/{name}")
async def organization_robot(orgname: str, name: str, principal: CurrentPrincipal) -> dict[str, Any]:
    """Always 404, for any organization (no name leaks): there are no robot accounts here."""
    signed_in_user(principal)
    raise no_robot(orgname, name)
