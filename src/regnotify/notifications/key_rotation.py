"""Resealing every stored secret with the current (first) secret key, so an old key can be dropped:
the secrets in notification configs, and the sources' webhook secrets (GitHub's signing secret).

All or nothing: the notifications and sources are read and rewritten in one transaction, and if any
sealed value opens with none of the configured keys, nothing is written and the notifications and
sources concerned are named, so the operator can put the missing key back first.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.db.models import ApiToken, Notification, Repository
from regnotify.methods import get_method
from regnotify.runtime.crypto import SecretBox, is_sealed


class KeysMissing(ValueError):
    """Some sealed values open with no configured key."""


@dataclass
class Resealed:
    notifications: int = 0  # notifications whose config held at least one sealed value
    sources: int = 0  # sources (service tokens) holding a sealed webhook secret
    values: int = 0  # sealed values rewritten, in notifications and sources
    unopenable: list[str] = field(default_factory=list)  # "namespace/name uuid" or "source N (name)"


async def _reseal_notifications(session: AsyncSession, box: SecretBox, report: Resealed) -> None:
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


async def _reseal_sources(session: AsyncSession, box: SecretBox, report: Resealed) -> None:
    sources = await session.scalars(
        select(ApiToken).where(ApiToken.webhook_secret.is_not(None)).order_by(ApiToken.id).with_for_update()
    )
    for source in sources:
        sealed = source.webhook_secret
        if not is_sealed(sealed):  # never stored so; left as it is
            continue
        try:
            source.webhook_secret = box.reseal(sealed)
        except ValueError:
            report.unopenable.append(f"source {source.id} ({source.name})")
            continue
        report.sources += 1
        report.values += 1


async def reseal_all(session: AsyncSession, box: SecretBox) -> Resealed:
    """Reseal every stored secret with ``box``'s first key, in ``session``'s transaction."""
    report = Resealed()
    await _reseal_notifications(session, box, report)
    await _reseal_sources(session, box, report)
    if report.unopenable:
        raise KeysMissing(
            f"{len(report.unopenable)} notification(s) or source(s) hold secrets no configured key opens "
            f"({', '.join(report.unopenable[:5])}{', ...' if len(report.unopenable) > 5 else ''}); "
            "add the key they were sealed with after the current one and run this again"
        )
    await session.flush()
    return report
