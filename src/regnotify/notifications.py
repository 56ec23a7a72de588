"""A repository's notifications: create (validated), find within the repository, view, delete, re-enable."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import Role, find_team, find_user, team_role, user_role
from regnotify.config import Settings
from regnotify.crypto import SecretBox
from regnotify.db.models import Delivery, Notification, Organization, Repository, User
from regnotify.db.types import utcnow
from regnotify.email_authorization import is_authorized
from regnotify.events import EventError, get_event_kind
from regnotify.methods import MethodConfigError, get_method
from regnotify.notification_changes import CREATED, DELETED, REENABLED, record_change

Resolver = Callable[[str], Awaitable[list[str]]]

MAX_TITLE_LENGTH = 255


async def system_resolver(host: str) -> list[str]:
    """The addresses ``host`` resolves to through the operating system's resolver."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


@dataclass
class RepositoryValidationContext:
    """What method validation may ask about the repository a notification is created for."""

    session: AsyncSession
    repository_row: Repository
    settings: Settings
    resolver: Resolver

    @property
    def namespace(self) -> str:
        return self.repository_row.namespace

    @property
    def repository(self) -> str:
        return self.repository_row.full_name

    async def user_can_read(self, username: str) -> bool | None:
        user = await find_user(self.session, username)
        if user is None:
            return None
        return await user_role(self.session, user, self.repository_row) >= Role.READ

    async def team_can_read(self, team: str) -> bool | None:
        if self.repository_row.organization_id is None:
            return None
        found = await find_team(self.session, self.namespace, team)
        if found is None:
            return None
        return await team_role(self.session, found, self.repository_row) >= Role.READ

    async def namespace_is_organization(self) -> bool:
        return self.repository_row.organization_id is not None and (
            await self.session.get(Organization, self.repository_row.organization_id) is not None
        )

    async def resolve_host(self, host: str) -> list[str]:
        return await self.resolver(host)

    async def email_is_authorized(self, email: str) -> bool:
        return await is_authorized(self.session, self.repository_row.id, email)


class NotificationError(ValueError):
    """The request to create a notification is invalid; the message says what to fix."""


async def create_notification(
    session: AsyncSession,
    repository: Repository,
    *,
    event: str,
    method: str,
    config: Any,
    event_config: Any,
    title: str | None,
    settings: Settings,
    box: SecretBox,
    resolver: Resolver,
    created_by: User | None,
    performer: str,
) -> Notification:
    """Validate everything, then store it and its audit entry (by ``performer``).

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
        context = RepositoryValidationContext(session, repository, settings, resolver)
        normalized_config = await notification_method.validate(config, context)
    except MethodConfigError as exc:
        raise NotificationError(str(exc)) from None

    notification = Notification(
        uuid=str(uuid.uuid4()),
        repository_id=repository.id,
        title=title,
        event=kind.name,
        method=notification_method.name,
        config=notification_method.seal(normalized_config, box),
        event_config=normalized_event_config,
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

    Deliveries held while it was disabled become due at once. Logged as a change by ``performer``
    (None: not logged, for internal callers).
    """
    if performer is not None:
        record_change(
            session,
            notification.repository_id,
            notification,
            REENABLED,
            performer,
            was_enabled=notification.enabled,
            number_of_failures=notification.number_of_failures,
        )
    notification.number_of_failures = 0
    notification.enabled = True
    notification.disabled_at = None
    await session.execute(
        update(Delivery)
        .where(Delivery.notification_id == notification.id, Delivery.state == "pending")
        .values(next_attempt_at=utcnow())
    )


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
