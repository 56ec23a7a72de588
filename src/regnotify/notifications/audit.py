"""The audit log of notification changes: written beside each change, read by repository admins.

Kinds are Quay's log kinds where Quay has one (``add_repo_notification``,
``delete_repo_notification``, ``reset_repo_notification``), plus ``test_repo_notification`` for
the Test button and ``disable_repo_notification`` when the worker disables one after failures
(performer None: the system). The metadata copies the notification's uuid, title, event and
method, so the log still reads after the notification is deleted; it never holds its config, so
no secret or target address can appear in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import NotificationChange

CREATED = "add_repo_notification"
DELETED = "delete_repo_notification"
REENABLED = "reset_repo_notification"
TESTED = "test_repo_notification"
DISABLED = "disable_repo_notification"
MAX_PAGE = 100


class Described(Protocol):
    """What the log copies of a notification (a stored one, or the worker's claimed copy)."""

    @property
    def uuid(self) -> str: ...
    @property
    def title(self) -> str | None: ...
    @property
    def event(self) -> str: ...
    @property
    def method(self) -> str: ...


def record_change(
    session: AsyncSession,
    repository_id: int,
    notification: Described,
    kind: str,
    performer: str | None,
    **details: Any,
) -> NotificationChange:
    """Add a log row for ``notification`` to the caller's transaction (so it commits with the change)."""
    change = NotificationChange(
        repository_id=repository_id,
        kind=kind,
        notification_uuid=notification.uuid,
        performer=performer,
        change_metadata={
            "notification_uuid": notification.uuid,
            "title": notification.title,
            "event": notification.event,
            "method": notification.method,
            **details,
        },
    )
    session.add(change)
    return change


@dataclass(frozen=True)
class ChangePage:
    changes: list[NotificationChange]
    next_before: int | None  # pass as ``before`` for the next (older) page; None on the last page


async def list_changes(
    session: AsyncSession,
    repository_id: int,
    *,
    limit: int = 50,
    before: int | None = None,
    notification_uuid: str | None = None,
) -> ChangePage:
    """A repository's changes, newest first, ``limit`` at a time."""
    limit = max(1, min(limit, MAX_PAGE))
    query = select(NotificationChange).where(NotificationChange.repository_id == repository_id)
    if before is not None:
        query = query.where(NotificationChange.id < before)
    if notification_uuid is not None:
        query = query.where(NotificationChange.notification_uuid == notification_uuid)
    rows = list(await session.scalars(query.order_by(NotificationChange.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return ChangePage(rows, rows[-1].id if more else None)


def change_view(change: NotificationChange) -> dict[str, Any]:
    """One change in the shape of Quay's log entries."""
    performer = None
    if change.performer:
        kind, _, name = change.performer.partition(":")
        performer = {"kind": kind, "name": name}
    return {
        "id": change.id,
        "kind": change.kind,
        "metadata": change.change_metadata,
        "datetime": change.created_at.isoformat(),
        "performer": performer,
    }
