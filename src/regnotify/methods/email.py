"""The e-mail method: config is one address, checked for syntax and normalised (lower-case domain).

Extension point: Quay only sends to addresses confirmed for the repository. When the validation
context defines ``async def email_is_authorized(self, email: str) -> bool | None``, an address for
which it does not return True is refused; contexts without it skip that check.

Sending builds a text part (the event's text plus a footer saying why the reader gets it) and an
HTML part (the event's already-escaped HTML inside a small document whose other values are escaped
by Jinja2) and hands both to ``senders.mail`` (SMTP, or the maildir of the embedded default).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from email_validator import validate_email
from markupsafe import Markup

from regnotify.config import Settings
from regnotify.events.rendering import render_html
from regnotify.methods.base import MethodConfigError, NotificationMethod, ValidationContext, type_name
from regnotify.methods.sending import Outgoing, Senders, SendResult
from regnotify.outbound.mail import MailError

log = logging.getLogger(__name__)

MAX_EMAIL_INPUT = 1024
MAX_LOCAL_PART = 64
SUBJECT_PREFIX = "[regnotify] "
TEST_SUBJECT_PREFIX = "[regnotify test] "
LEVEL_COLOURS = {"info": "#1f6feb", "primary": "#1f6feb", "success": "#1a7f37", "warning": "#9a6700"}

HTML_DOCUMENT = """\
<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{{ subject }}</title></head>
<body style="font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1f2328;">
<div style="border-left: 4px solid {{ colour }}; padding: 4px 12px; margin: 8px 0;">
<p style="margin: 0 0 8px 0;"><strong>{{ summary }}</strong></p>
{% if is_test %}<p style="margin: 0 0 8px 0;"><em>This is a test notification with sample data.</em></p>
{% endif %}
<div>{{ body }}</div>
</div>
<p style="color: #59636e; font-size: small;">
You receive this because repository {{ link(homepage, repository) }} has an e-mail notification
for {{ address }} ({% if title %}&ldquo;{{ title }}&rdquo;, {% endif %}{{ uuid }}).
</p>
</body>
</html>
"""


def normalize_email(value: object) -> str:
    """The normalised address, or MethodConfigError saying what is wrong with it."""
    if value is None or value == "":
        raise MethodConfigError("Missing email: the e-mail method needs an address")
    if not isinstance(value, str):
        raise MethodConfigError(f"email must be a string, not {type_name(value)}")
    if len(value) > MAX_EMAIL_INPUT:
        raise MethodConfigError("email is too long to be an e-mail address")
    address = value.strip()
    if not address:
        raise MethodConfigError("Missing email: the e-mail method needs an address")
    try:
        result = validate_email(address, check_deliverability=False)
    except ValueError as exc:  # EmailNotValidError, and UnicodeError from IDNA
        raise MethodConfigError(f"{address[:100]!r} is not a valid e-mail address: {exc}") from exc
    if len(result.local_part) > MAX_LOCAL_PART:  # RFC 5321; email-validator checks it only when strict
        raise MethodConfigError(f"{address[:100]!r} is not a valid e-mail address: too long before the @")
    return str(result.normalized)


class EmailMethod(NotificationMethod):
    """E-mail to one address."""

    name: ClassVar[str] = "email"
    title: ClassVar[str] = "E-mail"
    allowed_keys: ClassVar[tuple[str, ...]] = ("email",)
    secret_fields: ClassVar[tuple[str, ...]] = ()

    async def _validate(self, config: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
        email = normalize_email(config.get("email"))
        is_authorized: Callable[[str], Awaitable[bool | None]] | None = getattr(
            ctx, "email_is_authorized", None
        )
        if is_authorized is not None and await is_authorized(email) is not True:
            raise MethodConfigError(
                f"{email} is not authorized to receive notifications for repository {ctx.repository}; "
                "confirm the address for this repository first"
            )
        return {"email": email}

    def destination(self, config: dict[str, Any], settings: Settings) -> str | None:
        """The SMTP server every mail goes through (none for the maildir)."""
        return f"smtp:{settings.smtp_host}:{settings.smtp_port}" if settings.smtp_host else None

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        """Mail the event to the configured address. Never raises: problems become a failed result.

        The address must still be confirmed for the repository (Quay never re-checks): an
        authorization withdrawn since the notification was made stops the mail for good.
        """
        started = time.monotonic()
        address = config.get("email")
        if not isinstance(address, str) or not address:
            return SendResult(ok=False, permanent=True, error="the notification has no e-mail address")
        if not await senders.email_is_authorized(outgoing.repository, address):
            return SendResult(
                ok=False,
                permanent=True,
                error=f"{address} is no longer authorized for repository {outgoing.repository}",
            )
        prefix = TEST_SUBJECT_PREFIX if outgoing.is_test else SUBJECT_PREFIX
        subject = prefix + " ".join(outgoing.summary.split())
        request: dict[str, Any] = {"to": address, "subject": subject}
        try:
            where = await senders.mail.send(
                to=address,
                subject=subject,
                text=email_text(outgoing, address),
                html=email_html(outgoing, address, subject),
                headers={"X-Regnotify-Delivery": outgoing.delivery_id, "X-Regnotify-Event": outgoing.event},
            )
        except MailError as exc:
            return SendResult(
                ok=False,
                error=exc.message,
                permanent=exc.permanent,
                unreachable=exc.unreachable,
                request=request,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        except Exception as exc:  # a bug, not a refusal: the type only, never a message that may hold secrets
            log.exception("delivery %s: e-mail sending raised", outgoing.delivery_id)
            return SendResult(
                ok=False,
                error=f"internal error while sending e-mail: {type(exc).__name__}",
                request=request,
                duration_ms=(time.monotonic() - started) * 1000,
            )
        return SendResult(
            ok=True, response_excerpt=where, request=request, duration_ms=(time.monotonic() - started) * 1000
        )


def footer(outgoing: Outgoing, address: str) -> str:
    """Why the reader gets this mail, and which notification sent it."""
    name = f'"{outgoing.notification_title}", ' if outgoing.notification_title else ""
    return (
        f"You receive this because repository {outgoing.repository} has an e-mail notification "
        f"for {address} ({name}{outgoing.notification_uuid})."
    )


def email_text(outgoing: Outgoing, address: str) -> str:
    parts = [outgoing.summary, ""]
    if outgoing.is_test:
        parts += ["This is a test notification with sample data.", ""]
    parts += [outgoing.text.strip(), "", "-- ", footer(outgoing, address), ""]
    return "\n".join(parts)


def email_html(outgoing: Outgoing, address: str, subject: str) -> str:
    """A small HTML document; every value is escaped except the renderer's already-escaped message."""
    homepage = outgoing.payload.get("homepage") if isinstance(outgoing.payload, dict) else None
    return render_html(
        '{% from "macros.html" import link %}' + HTML_DOCUMENT,
        subject=subject,
        summary=outgoing.summary,
        colour=LEVEL_COLOURS.get(outgoing.level, "#cf222e"),
        is_test=outgoing.is_test,
        body=Markup(outgoing.html),  # noqa: S704 - trusted: produced by our escaping renderer
        homepage=homepage,
        repository=outgoing.repository,
        address=address,
        title=outgoing.notification_title,
        uuid=outgoing.notification_uuid,
    )
