"""Quay's repository read route (getRepo): a repository and what the caller may do on it.

It needs read on the repository, as every read route does: anonymous callers get public
repositories, and a 401 for the others. Its path template matches every path under
``/repository/``, so its router is included after all the others: a path another route takes
(``.../events``, ``.../notification/``) is never read as a repository name.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from regnotify.accounts import Role, user_role
from regnotify.api.auth import CurrentPrincipal, repository_for
from regnotify.api.context import Services, services

router = APIRouter(tags=["repositories"])
ServicesDep = Annotated[Services, Depends(services)]


@router.get("/repository/{repository:path}")
async def get_repository(repository: str, principal: CurrentPrincipal, svc: ServicesDep) -> dict[str, Any]:
    """The repository in Quay's shape, with ``can_write`` and ``can_admin`` for the caller."""
    async with svc.db.read() as session:
        repo = await repository_for(session, principal, repository, Role.READ)
        role = await user_role(session, principal.user, repo)
    return {
        "namespace": repo.namespace,
        "name": repo.name,
        "kind": "image",
        "description": "",
        "is_public": repo.visibility == "public",
        "is_organization": repo.organization_id is not None,
        "is_starred": False,
        "status_token": "",
        "trust_enabled": False,
        "tag_expiration_s": None,
        "state": "NORMAL",
        "is_free_account": True,
        "can_write": role >= Role.WRITE,
        "can_admin": role >= Role.ADMIN,
    }
