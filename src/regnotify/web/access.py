"""Permission checks for pages: exactly the API's rules (``repository_for``), answered as error pages."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import Role, user_role
from regnotify.api.auth import Principal, repository_for
from regnotify.api.errors import ApiError
from regnotify.db.models import Notification, Repository
from regnotify.notifications.registry import find_notification
from regnotify.web.errors import PageError
from regnotify.web.viewer import Viewer


async def repository_page(
    session: AsyncSession, viewer: Viewer, repository_path: str, need: Role
) -> tuple[Repository, Role]:
    """The repository in the URL and the viewer's role on it, if that role is at least ``need``.

    As the API: 403 whether or not the repository exists, 404 for superusers when it does not.
    """
    try:
        repository = await repository_for(session, Principal(user=viewer.user), repository_path, need)
    except ApiError as exc:
        raise PageError(exc.status, exc.detail) from None
    return repository, await user_role(session, viewer.user, repository)


async def notification_in(
    session: AsyncSession, repository: Repository, notification_uuid: str
) -> Notification:
    """The notification with this uuid in this repository; another repository's uuid is a 404."""
    notification = await find_notification(session, repository, notification_uuid)
    if notification is None:
        raise PageError(404, f"Repository {repository.full_name} has no notification {notification_uuid}.")
    return notification
