"""After an attempt: log it, then succeed, retry later, give up, or disable the notification.

``number_of_failures`` counts consecutive failed attempts of a notification (Quay's field); a
success resets it. At the threshold, or at once on 410 Gone, the notification is disabled: its
pending deliveries are held (not dropped) until an admin re-enables it, and the repository's
admins get an in-app notice. Test deliveries are tried once and never touch the counter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from markupsafe import escape
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.accounts import repository_admins
from regnotify.db import Database
from regnotify.db.models import DeliveryAttempt, Notification, Repository
from regnotify.db.types import utcnow
from regnotify.delivery.inbox import add_notices
from regnotify.delivery.queue import Claimed, hold_lease
from regnotify.delivery.retry import RetryPolicy
from regnotify.methods.sending import SendResult
from regnotify.notifications.audit import DISABLED, record_change

log = logging.getLogger(__name__)

MAX_EXCERPT = 4096
DISABLED_KIND = "notification_disabled"


@dataclass(frozen=True)
class Finished:
    state: str  # succeeded | pending (retry later) | failed
    attempt: int
    next_attempt_at: datetime | None
    disabled: bool


async def _count_failure(session: AsyncSession, notification_id: int) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.id == notification_id)
        .values(number_of_failures=Notification.number_of_failures + 1)
        .returning(Notification.number_of_failures)
    )
    return int(result.scalar_one())


async def _disable(session: AsyncSession, claimed: Claimed, failures: int, reason: str) -> bool:
    """Disable the notification if it is still enabled and tell the repository's admins."""
    result = await session.execute(
        update(Notification)
        .where(Notification.id == claimed.notification.id, Notification.enabled.is_(True))
        .values(enabled=False, disabled_at=utcnow())
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    record_change(
        session,
        claimed.repository.id,
        claimed.notification,
        DISABLED,
        None,
        reason=reason,
        number_of_failures=failures,
    )
    repository = await session.get(Repository, claimed.repository.id)
    if repository is not None:
        notification = claimed.notification
        await add_notices(
            session,
            await repository_admins(session, repository),
            kind=DISABLED_KIND,
            metadata={
                "repository": repository.full_name,
                "notification_uuid": notification.uuid,
                "title": notification.title,
                "event": notification.event,
                "method": notification.method,
                "number_of_failures": failures,
                "reason": reason,
            },
            repository_id=repository.id,
            delivery_id=None,
        )
    log.warning(
        "notification %s of %s disabled after %d consecutive failures (%s)",
        claimed.notification.uuid,
        claimed.repository.full_name,
        failures,
        reason,
    )
    return True


async def record_outcome(
    session: AsyncSession,
    claimed: Claimed,
    result: SendResult,
    *,
    started_at: datetime,
    policy: RetryPolicy,
    failure_threshold: int,
    worker: str,
) -> Finished | None:
    """Record the attempt and move the delivery on, in the caller's transaction; None when the lease
    was lost meanwhile."""
    delivery = await hold_lease(session, claimed)
    if delivery is None:
        log.warning(
            "delivery %s: lease lost before finishing; the attempt is not recorded", claimed.delivery_uuid
        )
        return None
    now = utcnow()
    number = delivery.attempts + 1
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            number=number,
            started_at=started_at,
            duration_ms=round(result.duration_ms, 3),
            outcome="succeeded" if result.ok else "failed",
            status_code=result.status_code,
            error=result.error,
            response_excerpt=excerpt(result),
            request=result.request,
            worker=worker[:64],
        )
    )
    delivery.attempts = number
    delivery.last_status_code = result.status_code
    delivery.last_error = result.error
    delivery.lease_owner = None
    delivery.lease_expires_at = None
    disabled = False

    if result.ok:
        delivery.state = "succeeded"
        delivery.finished_at = now
        if not claimed.is_test:
            await session.execute(  # skipped when already 0: no write, no row lock
                update(Notification)
                .where(Notification.id == claimed.notification.id, Notification.number_of_failures != 0)
                .values(number_of_failures=0)
            )
        return Finished("succeeded", number, None, False)

    retry_in = None
    if not (claimed.is_test or result.gone or result.permanent):
        retry_in = policy.next_delay(number, result.retry_after)
    if retry_in is None:
        delivery.state = "failed"
        delivery.finished_at = now
    else:
        delivery.next_attempt_at = now + timedelta(seconds=retry_in)
    if not claimed.is_test:
        failures = await _count_failure(session, claimed.notification.id)
        if result.gone:
            disabled = await _disable(session, claimed, failures, "the receiver answered 410 Gone")
        elif failures >= failure_threshold:
            disabled = await _disable(session, claimed, failures, f"{failures} consecutive failed attempts")
    return Finished(delivery.state, number, delivery.next_attempt_at if retry_in else None, disabled)


def excerpt(result: SendResult) -> str | None:
    """The response excerpt as the attempt log keeps it."""
    return result.response_excerpt[:MAX_EXCERPT] if result.response_excerpt else None


async def finish(
    db: Database,
    claimed: Claimed,
    result: SendResult,
    *,
    started_at: datetime,
    policy: RetryPolicy,
    failure_threshold: int,
    worker: str,
) -> Finished | None:
    """``record_outcome`` in a transaction of its own."""
    async with db.write() as session:
        return await record_outcome(
            session,
            claimed,
            result,
            started_at=started_at,
            policy=policy,
            failure_threshold=failure_threshold,
            worker=worker,
        )


def disabled_mail(claimed: Claimed, result: SendResult, base_url: str) -> tuple[str, str, str]:
    """Subject, text and HTML (escaped) telling an admin that a notification was disabled."""
    notification, repository = claimed.notification, claimed.repository.full_name
    name = notification.title or f"{notification.event} → {notification.method}"
    subject = f"[regnotify] Notification disabled in {repository}: {name}"
    link = f"{base_url}/repository/{repository}?tab=settings"
    reason = result.error or (f"HTTP {result.status_code}" if result.status_code else "delivery failed")
    text = (
        f"The notification {name!r} ({notification.uuid}) of repository {repository} was disabled "
        f"after repeated failed deliveries. Last error: {reason}.\n\n"
        f"Its pending deliveries are held. Fix the receiver, then enable it again: {link}\n"
        f"(API: POST /api/v1/repository/{repository}/notification/{notification.uuid})"
    )
    html = (
        f"<p>The notification <b>{escape(name)}</b> of repository <b>{escape(repository)}</b> was "
        f"disabled after repeated failed deliveries.</p><p>Last error: {escape(reason)}</p>"
        f"<p>Its pending deliveries are held. Fix the receiver, then "
        f'<a href="{escape(link)}">enable it again</a>.</p>'
    )
    return subject, text, html
