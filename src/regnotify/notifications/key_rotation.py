"""Resealing every stored secret with the current (first) secret key, so an old key can be dropped.

All or nothing: the notifications are read and rewritten in one transaction, and if any sealed
value opens with none of the configured keys, nothing is written and the notifications concerned
are named, so the operator can put the missing key back first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import Notification, Repository
from regnotify.methods import get_method
from regnotify.runtime.crypto import SecretBox, is_sealed


class KeysMissing(ValueError):
    """Some sealed values open with no configured key."""


@dataclass
class Resealed:
    notifications: int = 0  # notifications whose config held at least one sealed value
    values: int = 0  # sealed values rewritten
    unopenable: list[str] = field(default_factory=list)  # "namespace/name uuid" of configs that failed


async def reseal_all(session: AsyncSession, box: SecretBox) -> Resealed:
    """Reseal the secrets of every notification with ``box``'s first key, in ``session``'s transaction."""
    report = Resealed()
    rows = await session.execute(
        select(Notification, Repository)
        .join(Repository, Repository.id == Notification.repository_id)
        .order_by(Notification.id)
        .with_for_update(of=Notification)
    )
    for notification, repository in rows.all():
        config = dict(notification.config)
        changed = 0
        for key in get_method(notification.method).secret_fields:
            value = config.get(key)
            if not is_sealed(value):
                continue
            try:
                config[key] = box.reseal(value)
            except ValueError:
                report.unopenable.append(f"{repository.full_name} {notification.uuid}")
                break
            changed += 1
        else:
            if changed:
                notification.config = config
                report.notifications += 1
                report.values += changed
    if report.unopenable:
        raise KeysMissing(
            f"{len(report.unopenable)} notification(s) hold secrets no configured key opens "
            f"({', '.join(report.unopenable[:5])}{', ...' if len(report.unopenable) > 5 else ''}); "
            "add the key they were sealed with after the current one and run this again"
        )
    await session.flush()
    return report
