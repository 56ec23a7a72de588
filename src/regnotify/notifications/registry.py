"""A repository's notifications: create (validated, then stored), find within the repository, view, delete,
re-enable.

Creating is two steps so that nothing waits on the network inside a write transaction (on SQLite
the write turn is the whole process's): ``validate_notification`` runs outside any transaction (it
may resolve a webhook's host, and reads what it needs in short read transactions of its own), then
``store_notification`` inserts the result in the caller's write transaction, checking the
per-repository cap again there.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import Role, find_team, find_user, team_role, user_role
from regnotify.config import Settings
from regnotify.db.models import Delivery, Notification, Organization, Repository, User
from regnotify.db.types import utcnow
from regnotify.db.wakeup import announce
from regnotify.events import EventError, get_event_kind
from regnotify.methods import MethodConfigError, get_method
from regnotify.notifications.audit import CREATED, DELETED, REENABLED, record_change
from regnotify.notifications.email_addresses import is_authorized
from regnotify.outbound.addresses import Resolver
from regnotify.runtime.crypto import SecretBox

# Opens a short read-only session, e.g. ``Database.read``.
ReadSessions = Callable[[], AbstractAsyncContextManager[AsyncSession]]

MAX_TITLE_LENGTH = 255


@dataclass
class RepositoryValidationContext:
    """What method validation may ask about the repository a notification is created for.

    Each question reads in a short transaction of its own (``read``), so none is open, and no
    connection is held, while ``resolve_host`` waits on the network."""

    read: ReadSessions
    repository_row: Repository
    settings: Settings
    resolver: Resolver
    event: str | None = None  # the event kind the notification is for (a webhook renders its sample)

    @property
    def namespace(self) -> str:
        return self.repository_row.namespace

    @property
    def repository(self) -> str:
        return self.repository_row.full_name

    async def user_can_read(self, username: str) -> bool | None:
        async with self.read() as session:
            user = await find_user(session, username)
            if user is None:
                return None
            return await user_role(session, user, self.repository_row) >= Role.READ

    async def team_can_read(self, team: str) -> bool | None:
        if self.repository_row.organization_id is None:
            return None
        async with self.read() as session:
            found = await find_team(session, self.namespace, team)
            if found is None:
                return None
            return await team_role(session, found, self.repository_row) >= Role.READ

    async def namespace_is_organization(self) -> bool:
        if self.repository_row.organization_id is None:
            return False
        async with self.read() as session:
            return await session.get(Organization, self.repository_row.organization_id) is not None

    async def resolve_host(self, host: str) -> list[str]:
        return await self.resolver(host)

    async def email_is_authorized(self, email: str) -> bool:
        async with self.read() as session:
            return await is_authorized(session, self.repository_row.id, email)


class NotificationError(ValueError):
    """The request to create a notification is invalid; the message says what to fix."""


class NotificationLimitReached(NotificationError):
    """The repository already has ``max_notifications_per_repository`` notifications."""


@dataclass(frozen=True)
class NotificationDraft:
    """A notification that passed validation, not stored yet."""

    title: str | None
    event: str
    event_config: dict[str, Any]
    method: str
    config: dict[str, Any]  # the method's normalized plaintext config; sealed when stored


async def validate_notification(
    read: ReadSessions,
    repository: Repository,
    *,
    event: str,
    method: str,
    config: Any,
    event_config: Any,
    title: str | None,
    settings: Settings,
    resolver: Resolver,
) -> NotificationDraft:
    """Check everything a create request says, outside any transaction: method validation may wait
    on the network (the SSRF check resolves a webhook's or chat's host), and reads what it needs
    through ``read``, in short transactions of its own.

    Raises NotificationError with a message for the user."""
    title = (title or "").strip() or None
    if title is not None and len(title) > MAX_TITLE_LENGTH:
        raise NotificationError(f"title is too long: at most {MAX_TITLE_LENGTH} characters")
    try:
        kind = get_event_kind(event)
        normalized_event_config = kind.validate_config(event_config)
    except EventError as exc:
        raise NotificationError(str(exc)) from None
    try:
        notification_method = get_method(method)
        context = RepositoryValidationContext(read, repository, settings, resolver, kind.name)
        normalized_config = await notification_method.validate(config, context)
    except MethodConfigError as exc:
        raise NotificationError(str(exc)) from None
    return NotificationDraft(
        title=title,
        event=kind.name,
        event_config=normalized_event_config,
        method=notification_method.name,
        config=normalized_config,
    )


async def check_room(session: AsyncSession, repository: Repository, settings: Settings) -> None:
    """NotificationLimitReached when ``repository`` has no room for one more notification."""
    limit = settings.max_notifications_per_repository
    count = await session.scalar(
        select(func.count()).select_from(Notification).where(Notification.repository_id == repository.id)
    )
    if count is not None and count >= limit:
        surplus = count - limit + 1
        raise NotificationLimitReached(
            f"repository {repository.full_name} already has {count} notifications, and at most {limit} "
            "are allowed (setting REGNOTIFY_MAX_NOTIFICATIONS_PER_REPOSITORY); delete "
            f"{'one' if surplus == 1 else surplus} first"
        )


async def store_notification(
    session: AsyncSession,
    repository: Repository,
    draft: NotificationDraft,
    *,
    settings: Settings,
    box: SecretBox,
    created_by: User | None,
    performer: str,
) -> Notification:
    """Insert a validated notification and its audit entry (by ``performer``) in ``session``'s write
    transaction. Nothing here waits on the network.

    The cap is checked again here, holding the repository's row on PostgreSQL so that two creates
    cannot both take the last place (SQLite's writers take turns anyway). Raises
    NotificationLimitReached."""
    await session.execute(
        select(Repository.id).where(Repository.id == repository.id).with_for_update(key_share=True)
    )
    await check_room(session, repository, settings)
    notification = Notification(
        uuid=str(uuid.uuid4()),
        repository_id=repository.id,
        title=draft.title,
        event=draft.event,
        method=draft.method,
        config=get_method(draft.method).seal(draft.config, box),
        event_config=draft.event_config,
        created_by_id=created_by.id if created_by else None,
    )
    session.add(notification)
    await session.flush()
    record_change(session, repository.id, notification, CREATED, performer)
    return notification


async def list_notifications(session: AsyncSession, repository: Repository) -> list[Notification]:
    rows = await session.scalars(
        select(Notification)
        .where(Notification.repository_id == repository.id)
        .order_by(Notification.created_at, Notification.id)
    )
    return list(rows)


async def find_notification(
    session: AsyncSession, repository: Repository, notification_uuid: str
) -> Notification | None:
    """The notification with this uuid *in this repository*; another repository's uuid is not found."""
    return await session.scalar(
        select(Notification).where(
            Notification.uuid == notification_uuid, Notification.repository_id == repository.id
        )
    )


async def delete_notification(session: AsyncSession, notification: Notification, performer: str) -> None:
    """Delete the notification (its deliveries go with it) and log who did."""
    record_change(session, notification.repository_id, notification, DELETED, performer)
    await session.delete(notification)


async def reset_failures(session: AsyncSession, notification: Notification, performer: str | None) -> None:
    """Quay's reset call: clear the failure count and enable the notification again.

    Quay's reset only sets ``number_of_failures`` to 0: on an enabled notification, a retry waiting
    out its backoff keeps waiting. Only when the notification was disabled do the deliveries held
    meanwhile become due at once. Logged as a change by ``performer`` (None: not logged, for
    internal callers), and only when something changed: resetting again changes nothing.
    """
    # the row as it is now, locked (PostgreSQL) so that a worker disabling it or counting a failure
    # meanwhile waits for this transaction; SQLite's single writer already serialises them
    await session.refresh(notification, with_for_update=True)
    was_enabled = notification.enabled
    if was_enabled and notification.number_of_failures == 0:
        return
    if performer is not None:
        record_change(
            session,
            notification.repository_id,
            notification,
            REENABLED,
            performer,
            was_enabled=was_enabled,
            number_of_failures=notification.number_of_failures,
        )
    notification.number_of_failures = 0
    notification.enabled = True
    notification.disabled_at = None
    if was_enabled:
        return
    held = cast(  # an UPDATE's result is a CursorResult, which the stubs of session.execute do not say
        "CursorResult[Any]",
        await session.execute(
            update(Delivery)
            .where(Delivery.notification_id == notification.id, Delivery.state == "pending")
            .values(next_attempt_at=utcnow())
        ),
    )
    if held.rowcount:
        await announce(session)


def notification_view(notification: Notification, box: SecretBox) -> dict[str, Any]:
    """Quay's view shape plus ``enabled`` and ``created``; secrets masked."""
    method = get_method(notification.method)
    return {
        "uuid": notification.uuid,
        "title": notification.title,
        "event": notification.event,
        "method": notification.method,
        "config": method.mask(method.unseal(notification.config, box)),
        "event_config": notification.event_config,
        "number_of_failures": notification.number_of_failures,
        "enabled": notification.enabled,
        "created": notification.created_at.isoformat(),
    }
