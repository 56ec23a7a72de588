"""E-mail authorization: an address receives a repository's notifications only once confirmed.

As Quay: a repository admin asks for an address to be authorized; the address gets a link; the
link confirms it for that repository. Better than Quay: codes expire, only their hash is stored,
the link opens a page whose button confirms (a POST, so mail scanners following links confirm
nothing), sending is rate-limited per address and repository, and the worker checks the
authorization again before each mail.

A request is recorded (code, rate limit) in a write transaction that commits before the mail is
sent (``verification_sending``), so no write waits on the SMTP server; a mail that could not be
handed over is then withdrawn (``withdraw_verification``), as if it had never been asked for.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from markupsafe import escape
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db.models import AuthorizedEmail, Repository
from regnotify.db.types import utcnow

DAY = timedelta(hours=24)


class VerificationRateLimited(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after:.0f} s")
        self.retry_after = retry_after


@dataclass(frozen=True)
class SendingState:
    """The columns a verification request changes, as they were before it."""

    code_hash: str | None
    code_expires_at: datetime | None
    last_sent_at: datetime | None
    send_count: int
    window_started_at: datetime | None


@dataclass(frozen=True)
class VerificationRequest:
    record: AuthorizedEmail
    code: str | None  # None when the address is already confirmed: nothing to send
    before: SendingState | None = None  # the row's state before this request; None: the request made it


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def authorization_view(record: AuthorizedEmail | None, repository: Repository, email: str) -> dict[str, Any]:
    """Quay's shape: ``{email, repository, namespace, confirmed}``."""
    return {
        "email": email,
        "repository": repository.name,
        "namespace": repository.namespace,
        "confirmed": bool(record and record.confirmed),
    }


async def find_authorization(
    session: AsyncSession, repository: Repository, email: str
) -> AuthorizedEmail | None:
    return await session.scalar(
        select(AuthorizedEmail).where(
            AuthorizedEmail.repository_id == repository.id, AuthorizedEmail.email == email
        )
    )


async def is_authorized(session: AsyncSession, repository_id: int, email: str) -> bool:
    confirmed = await session.scalar(
        select(AuthorizedEmail.confirmed).where(
            AuthorizedEmail.repository_id == repository_id, AuthorizedEmail.email == email
        )
    )
    return bool(confirmed)


def _check_rate(record: AuthorizedEmail, settings: Settings, now: datetime) -> None:
    if record.last_sent_at is not None:
        wait = settings.verification_min_interval - (now - record.last_sent_at).total_seconds()
        if wait > 0:
            raise VerificationRateLimited(wait)
    if record.window_started_at is None or now - record.window_started_at >= DAY:
        record.window_started_at = now
        record.send_count = 0
    if record.send_count >= settings.verification_max_per_day:
        raise VerificationRateLimited((record.window_started_at + DAY - now).total_seconds())


async def request_verification(
    session: AsyncSession, repository: Repository, email: str, settings: Settings
) -> VerificationRequest:
    """A fresh code for ``email`` (rate-limited), or nothing when it is already confirmed."""
    now = utcnow()
    record = await find_authorization(session, repository, email)
    before = None
    if record is None:
        record = AuthorizedEmail(repository_id=repository.id, email=email, send_count=0)
        session.add(record)
    elif record.confirmed:
        return VerificationRequest(record, None)
    else:
        before = SendingState(
            code_hash=record.code_hash,
            code_expires_at=record.code_expires_at,
            last_sent_at=record.last_sent_at,
            send_count=record.send_count or 0,
            window_started_at=record.window_started_at,
        )
    _check_rate(record, settings, now)
    code = secrets.token_urlsafe(24)
    record.code_hash = code_hash(code)
    record.code_expires_at = now + timedelta(hours=settings.email_code_ttl_hours)
    record.last_sent_at = now
    record.send_count = (record.send_count or 0) + 1
    await session.flush()
    return VerificationRequest(record, code, before)


async def withdraw_verification(session: AsyncSession, request: VerificationRequest) -> None:
    """Undo a committed ``request`` whose mail could not be handed over: the row goes back to what it
    was (an earlier mailed link works again, and the failed mail does not count against the rate
    limit), or away if the request made it. Only while the row still holds this request's code: a
    later request, or a confirmation, is left alone."""
    if request.code is None:
        return
    mine = (AuthorizedEmail.id == request.record.id, AuthorizedEmail.code_hash == code_hash(request.code))
    if request.before is None:
        await session.execute(delete(AuthorizedEmail).where(*mine))
    else:
        await session.execute(update(AuthorizedEmail).where(*mine).values(**asdict(request.before)))


async def pending_by_code(session: AsyncSession, code: str) -> tuple[AuthorizedEmail, Repository] | None:
    """The unconfirmed authorization a live code belongs to, with its repository."""
    if not code or len(code) > 200:
        return None
    row = (
        await session.execute(
            select(AuthorizedEmail, Repository)
            .join(Repository, Repository.id == AuthorizedEmail.repository_id)
            .where(AuthorizedEmail.code_hash == code_hash(code))
        )
    ).first()
    if row is None:
        return None
    record, repository = row
    if record.code_expires_at is None or record.code_expires_at <= utcnow():
        return None
    return record, repository


async def confirm(session: AsyncSession, code: str) -> tuple[AuthorizedEmail, Repository] | None:
    found = await pending_by_code(session, code)
    if found is None:
        return None
    record, repository = found
    record.confirmed = True
    record.confirmed_at = utcnow()
    record.code_hash = None
    record.code_expires_at = None
    return record, repository


def verification_mail(repository: str, email: str, link: str, ttl_hours: float) -> tuple[str, str, str]:
    """Subject, text and HTML (escaped) of the verification mail."""
    subject = f"Please verify your e-mail address for repository {repository}"
    text = (
        f"Someone administering repository {repository} asked to send its notifications to {email}.\n\n"
        f"To agree, open this link and press Confirm (valid for {ttl_hours:g} hours):\n{link}\n\n"
        "If you did not expect this, ignore this mail: nothing will be sent to you."
    )
    html = (
        f"<p>Someone administering repository <b>{escape(repository)}</b> asked to send its "
        f"notifications to {escape(email)}.</p>"
        f'<p><a href="{escape(link)}">Open the confirmation page</a> and press Confirm '
        f"(valid for {ttl_hours:g} hours).</p>"
        "<p>If you did not expect this, ignore this mail: nothing will be sent to you.</p>"
    )
    return subject, text, html
