"""Quay's signed-in user routes: who the token belongs to (getLoggedInUser), and user robot look-ups
(regnotify has no robot accounts, so none is ever found). Both need a user's token."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from regnotify.accounts.lookup import Membership, user_organizations
from regnotify.api.auth import CurrentPrincipal, signed_in_user
from regnotify.api.avatars import avatar
from regnotify.api.context import Services, services
from regnotify.api.errors import ApiError

router = APIRouter(tags=["users"])
ServicesDep = Annotated[Services, Depends(services)]


def no_robot(namespace: str, name: str) -> ApiError:
    return ApiError(404, f"no robot account {namespace}+{name}: regnotify has no robot accounts")


def _organization_view(membership: Membership) -> dict[str, Any]:
    name = membership.organization.name
    return {
        "name": name,
        "avatar": avatar(name, "org"),
        "can_create_repo": membership.is_admin,
        "public": False,
        "is_org_admin": membership.is_admin,
        "preferred_namespace": False,
    }


@router.get("/user/")
@router.get("/user", include_in_schema=False)
async def logged_in_user(principal: CurrentPrincipal, svc: ServicesDep) -> dict[str, Any]:
    """The caller's account in Quay's shape, with the organizations they are in a team of."""
    user = signed_in_user(principal)
    async with svc.db.read() as session:
        memberships = await user_organizations(session, user)
    return {
        "anonymous": False,
        "username": user.username,
        "avatar": avatar(user.username, "user"),
        "can_create_repo": True,
        "is_me": True,
        "verified": True,
        "email": user.email,
        "logins": [],
        "invoice_email": False,
        "invoice_email_address": None,
        "preferred_namespace": False,
        "tag_expiration_s": None,
        "prompts": [],
        "company": None,
        "family_name": None,
        "given_name": None,
        "location": None,
        "is_free_account": True,
        "has_password_set": bool(user.password_hash),
        "organizations": [_organization_view(membership) for membership in memberships],
        "super_user": user.is_superuser,
    }


@router.get("/user/robots/{name}")
async def user_robot(name: str, principal: CurrentPrincipal) -> dict[str, Any]:
    """Always 404: there are no robot accounts here (Quay clients take a 404 as "no such robot")."""
    user = signed_in_user(principal)
    raise no_robot(user.username, name)
