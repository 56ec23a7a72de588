"""Asking an address to confirm it receives a repository's notifications: a code, mailed as a link.

Two steps, so that no write transaction waits on the SMTP server (on SQLite the write turn is the
whole process's): the caller records the request with ``request_verification`` in a write
transaction (the rate limit is checked and counted there) and lets it commit; then
``send_verification`` mails the link with no transaction open. When the mail cannot be handed
over, the request is withdrawn in a short write of its own and the ``MailError`` reaches the caller,
which answers as before (503).

Why not the outbox: the API and the form answer whether the mail went (503 when the SMTP server
refuses or cannot be reached, as Quay does); a queued mail would always answer 200, and a bad SMTP
set-up would show only in the log.
"""

from __future__ import annotations

import logging

from regnotify.config import Settings
from regnotify.db import Database
from regnotify.db.models import Repository
from regnotify.methods.sending import MailClient
from regnotify.notifications.email_addresses import (
    VerificationRequest,
    verification_mail,
    withdraw_verification,
)
from regnotify.outbound.mail import MailError

log = logging.getLogger(__name__)


def confirmation_link(settings: Settings, code: str) -> str:
    return f"{settings.base_url}/authrepoemail?code={code}"


async def send_verification(
    db: Database, repository: Repository, request: VerificationRequest, settings: Settings, mail: MailClient
) -> None:
    """Mail the confirmation link of ``request``, recorded in a transaction that has committed
    (nothing to send when the address is already confirmed).

    Raises ``MailError`` when the mail cannot be handed over, after withdrawing the request: the
    failed mail does not count against the rate limit and an earlier link works again.
    """
    if request.code is None:
        return
    link = confirmation_link(settings, request.code)
    address = request.record.email
    ttl = settings.email_code_ttl_hours
    subject, text, html = verification_mail(repository.full_name, address, link, ttl)
    try:
        await mail.send(to=address, subject=subject, text=text, html=html, headers={})
    except MailError:
        try:
            async with db.write() as session:
                await withdraw_verification(session, request)
        except Exception:  # the answer stays the mail's failure; the request merely keeps counting
            log.exception("could not withdraw the verification request of %s after its mail failed", address)
        raise
