"""Outbound e-mail: build one message and hand it to an SMTP server, or to a local Maildir.

``mail_client(settings)`` picks the client. With ``smtp_host`` set, ``SmtpMailClient`` talks to
that server (``smtp_security``: ``plain``, ``starttls`` required, or implicit ``tls``; login when
``smtp_username`` is set). Without it (the embedded default), ``MaildirMailClient`` writes each
message into ``DATA_DIR/maildir`` so nothing is lost and an operator can read what would have gone.

Every message is multipart/alternative, plain text first and HTML second (clients show the last
part they understand). Failures raise ``MailError``: ``permanent`` only when the server refused
this message with a 5xx reply to MAIL FROM, RCPT TO or DATA; everything about our own set-up
(connection, TLS, greeting, AUTH, timeouts) is temporary, since fixing the server or the
credentials makes a retry succeed. No message ever contains the SMTP password.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import mailbox
import os
import ssl
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING

import aiosmtplib

from regnotify.config import PRIVATE_FILE

if TYPE_CHECKING:
    from regnotify.config import Settings

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
RESERVED_HEADERS = frozenset(
    h.lower() for h in ("From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type")
)
MAX_SUBJECT = 250
MAX_ERROR = 500


class MailError(Exception):
    """A message that could not be handed over; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.unreachable = unreachable  # the server never answered: timed out, refused, reset


def one_line(value: str) -> str:
    """A header value on one line: CR, LF and other line breaks become spaces, runs collapse."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def message_id_domain(mail_from: str) -> str:
    """The domain part of the sender address, for Message-ID (no DNS look-up of our own name)."""
    _, address = parseaddr(mail_from)
    domain = address.rpartition("@")[2].strip()
    return domain if domain and one_line(domain) == domain else "regnotify.invalid"


def build_message(
    *, mail_from: str, to: str, subject: str, text: str, html: str, headers: dict[str, str]
) -> EmailMessage:
    """The complete message; MailError (permanent) for a recipient or header that cannot be sent."""
    recipient = to.strip()
    if not recipient or any(ch in recipient for ch in "\r\n,;<>") or "@" not in recipient:
        raise MailError(f"{recipient[:100]!r} is not a single e-mail address", permanent=True)
    message = EmailMessage()
    try:
        message["From"] = one_line(mail_from)
        message["To"] = Address(addr_spec=recipient)
    except (ValueError, IndexError) as exc:
        raise MailError(f"cannot address the message: {exc}", permanent=True) from exc
    message["Subject"] = one_line(subject)[:MAX_SUBJECT]
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=message_id_domain(mail_from))
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    for name, value in headers.items():
        if not name.isascii() or not name.replace("-", "").isalnum() or name.lower() in RESERVED_HEADERS:
            raise MailError(f"extra header {name[:60]!r} is not allowed", permanent=True)
        message[name] = one_line(value)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


class SmtpMailClient:
    """Sends through the operator's SMTP server, one connection per message."""

    def __init__(
        self,
        settings: Settings,
        *,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        if not settings.smtp_host:
            raise ValueError("SmtpMailClient needs smtp_host; use mail_client() to fall back to the maildir")
        self.settings = settings
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.security = settings.smtp_security
        self.ssl_context = ssl_context  # None: the system's trusted CAs
        self.timeout = timeout

    @property
    def where(self) -> str:
        return f"smtp:{self.host}:{self.port}"

    async def send(self, *, to: str, subject: str, text: str, html: str, headers: dict[str, str]) -> str:
        message = build_message(
            mail_from=self.settings.mail_from, to=to, subject=subject, text=text, html=html, headers=headers
        )
        client = aiosmtplib.SMTP(
            hostname=self.host,
            port=self.port,
            username=self.settings.smtp_username or None,
            password=self.settings.smtp_password if self.settings.smtp_username else None,
            timeout=self.timeout,
            use_tls=self.security == "tls",
            start_tls=self.security == "starttls",
            tls_context=self.ssl_context,
        )
        try:
            # each step has its own timeout; this bounds the whole conversation too
            async with asyncio.timeout(self.timeout * 6):
                async with client:
                    await client.send_message(message)
        except Exception as exc:
            raise self.classify(exc) from None
        return f"{self.where} accepted"

    def classify(self, exc: BaseException) -> MailError:
        """Turn whatever the conversation raised into a MailError with a scrubbed message."""
        where = f"SMTP server {self.host}:{self.port}"
        permanent = False
        unreachable = False
        if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
            codes = [r.code for r in exc.recipients]
            permanent = bool(codes) and all(500 <= code < 600 for code in codes)
            detail = "; ".join(f"{r.code} {r.message}" for r in exc.recipients) or str(exc)
            text = f"{where} refused the recipient: {detail}"
        elif isinstance(
            exc, aiosmtplib.SMTPSenderRefused | aiosmtplib.SMTPDataError | aiosmtplib.SMTPRecipientRefused
        ):
            permanent = 500 <= exc.code < 600
            step = {
                aiosmtplib.SMTPSenderRefused: "the sender",
                aiosmtplib.SMTPRecipientRefused: "the recipient",
            }.get(type(exc), "the message")
            text = f"{where} refused {step}: {exc.code} {exc.message}"
        elif isinstance(exc, aiosmtplib.SMTPAuthenticationError):
            login = self.settings.smtp_username
            text = f"{where} did not accept the login for {login!r}: {exc.code} {exc.message}"
        elif isinstance(exc, aiosmtplib.SMTPResponseException):  # greeting, HELO
            text = f"{where} answered {exc.code} {exc.message}"
        elif isinstance(exc, TimeoutError):  # includes aiosmtplib's timeout errors
            text = f"{where} timed out: {exc or 'no answer'}"
            unreachable = True
        elif isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected | OSError):
            kind = "TLS" if isinstance(exc, ssl.SSLError) else "connection"
            text = f"{kind} to {where} failed: {exc}"
            unreachable = True
        elif isinstance(exc, aiosmtplib.SMTPException):
            text = f"{where}: {exc}"
        else:
            text = f"sending through {where} failed: {type(exc).__name__}: {exc}"
        return MailError(self.scrub(text)[:MAX_ERROR], permanent=permanent, unreachable=unreachable)

    def scrub(self, text: str) -> str:
        """The text with the SMTP password (and its base64 forms) masked, in case a server echoes it."""
        password = self.settings.smtp_password
        if not password:
            return text
        secrets = [password, base64.b64encode(password.encode()).decode()]
        if self.settings.smtp_username:
            blob = f"\0{self.settings.smtp_username}\0{password}".encode()
            secrets.append(base64.b64encode(blob).decode())
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "********")
        return text


class MaildirMailClient:
    """The embedded default: every message lands in ``DATA_DIR/maildir`` instead of leaving the host."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path: Path = Path(settings.data_dir) / "maildir"

    async def send(self, *, to: str, subject: str, text: str, html: str, headers: dict[str, str]) -> str:
        message = build_message(
            mail_from=self.settings.mail_from, to=to, subject=subject, text=text, html=html, headers=headers
        )
        try:
            key = await asyncio.to_thread(self._write, message)
        except OSError as exc:
            raise MailError(f"cannot write to maildir {self.path}: {exc}") from None
        written = self.path / "new" / key
        logger.info("no SMTP server configured: mail to %s written to %s", to.strip(), written)
        return f"maildir:{key}"

    def _write(self, message: EmailMessage) -> str:
        self.settings.make_data_dir()  # 0700; mailbox makes the maildir's own directories 0700
        box = mailbox.Maildir(self.path, create=True)
        key = box.add(message)
        os.chmod(self.path / "new" / key, PRIVATE_FILE)  # mailbox writes it through the umask
        return key


def mail_client(settings: Settings) -> SmtpMailClient | MaildirMailClient:
    """SMTP when the operator configured a server, otherwise the local maildir."""
    if settings.smtp_host:
        return SmtpMailClient(settings)
    return MaildirMailClient(settings)
