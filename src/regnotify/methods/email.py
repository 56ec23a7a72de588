"""The e-mail method: config is one address, checked for syntax and normalised (lower-case domain).

Extension point: Quay only sends to addresses confirmed for the repository. When the validation
context defines ``async def email_is_authorized(self, email: str) -> bool | None``, an address for
which it does not return True is refused; contexts without it skip that check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from email_validator import validate_email

from regnotify.methods.base import MethodConfigError, NotificationMethod, ValidationContext, type_name

MAX_EMAIL_INPUT = 1024
MAX_LOCAL_PART = 64


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
