"""``GET …/notification/logs``: the audit log of a repository's notifications, for its admins."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from regnotify.accounts import Role
from regnotify.api.auth import CurrentPrincipal, repository_for
from regnotify.api.context import Services, services
from regnotify.notifications.audit import MAX_PAGE, change_view, list_changes

router = APIRouter(tags=["notifications"])
MAX_ROW_ID = 2**63 - 1  # the largest id a database row can have; beyond it SQLite cannot even compare
ServicesDep = Annotated[Services, Depends(services)]


@router.get("/repository/{repository:path}/notification/logs")
async def notification_logs(
    repository: str,
    principal: CurrentPrincipal,
    svc: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE, description="Entries per page")] = 50,
    next_page: Annotated[
        int | None, Query(ge=1, le=MAX_ROW_ID, description="From the previous page's next_page")
    ] = None,
    notification: Annotated[str | None, Query(max_length=36, description="Only this notification")] = None,
) -> dict[str, Any]:
    """Who created, deleted, re-enabled or tested a notification, and when one was disabled, newest
    first, in the shape of Quay's logs."""
    async with svc.db.read() as session:
        repo = await repository_for(session, principal, repository, Role.ADMIN)
        page = await list_changes(
            session, repo.id, limit=limit, before=next_page, notification_uuid=notification
        )
        return {
            "logs": [change_view(change) for change in page.changes],
            "next_page": page.next_before,
        }
