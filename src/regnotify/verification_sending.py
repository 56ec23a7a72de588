"""Asking an address to confirm it receives a repository's notifications: a code, mailed as a link."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from regnotify.config import Settings
from regnotify.db.models import Repository
from regnotify.email_authorization import VerificationRequest, request_verification, verification_mail
from regnotify.methods.sending import MailClient


def confirmation_link(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/authrepoemail?code={code}"


async def send_verification(
    session: AsyncSession, repository: Repository, address: str, settings: Settings, mail: MailClient
) -> VerificationRequest:
    """Mail ``address`` a confirmation link unless it is already confirmed.

    Raises ``VerificationRateLimited`` when one was sent too recently and ``MailError`` when the
    mail cannot be handed over; the caller's transaction should then be rolled back.
    """
    request = await request_verification(session, repository, address, settings)
    if request.code is not None:
        link = confirmation_link(settings, request.code)
        subject, text, html = verification_mail(
            repository.full_name, address, link, settings.email_code_ttl_hours
        )
        await mail.send(to=address, subject=subject, text=text, html=html, headers={})
    return request
