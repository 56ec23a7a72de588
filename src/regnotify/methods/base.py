"""The notification-method contract: config validation, sealing of secrets, masking for display.

Each method module defines one ``NotificationMethod`` subclass. ``validate`` turns whatever a
client sent into the plaintext config to store, or raises ``MethodConfigError`` with a message
that tells the user what to fix; it raises nothing else, whatever the input. Sealing (encryption
at rest) and masking (display in API responses) work on the method's ``secret_fields``.
"""

from __future__ import annotations

import copy
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Protocol
from urllib.parse import urlsplit

from regnotify.config import Settings
from regnotify.runtime.crypto import SecretBox, is_sealed

if TYPE_CHECKING:
    from regnotify.methods.sending import Outgoing, Senders, SendResult

MASK = "********"
MAX_TOKEN_LENGTH = 512


class MethodConfigError(ValueError):
    """A method config that cannot be accepted; ``str(exc)`` says what to fix."""


class UnknownMethodError(MethodConfigError):
    """A method name that is not in the catalogue."""


class ValidationContext(Protocol):
    """What validation may ask about the repository a notification is created on.

    The real implementation is database-backed; tests use a small fake. Optional extension:
    a context may also define ``async def email_is_authorized(self, email: str) -> bool | None``;
    when present, the e-mail method refuses addresses for which it does not return True.
    """

    @property
    def namespace(self) -> str:
        """The repository's namespace, e.g. ``acme``."""
        ...

    @property
    def repository(self) -> str:
        """The full repository name, e.g. ``acme/app``."""
        ...

    @property
    def settings(self) -> Settings: ...

    async def user_can_read(self, username: str) -> bool | None:
        """None: no such user; False: the user exists but cannot read the repository."""
        ...

    async def team_can_read(self, team: str) -> bool | None:
        """None: no such team in the namespace organization (or the namespace is no organization)."""
        ...

    async def namespace_is_organization(self) -> bool: ...

    async def resolve_host(self, host: str) -> list[str]:
        """The IP address strings ``host`` resolves to; OSError when it does not resolve."""
        ...


def describe(value: object, limit: int = 60) -> str:
    """A short, safe rendering of a user-supplied value for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def type_name(value: object) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    return names.get(type(value), "number" if isinstance(value, int | float) else type(value).__name__)


def has_control_or_space(text: str) -> bool:
    return any(ch.isspace() or unicodedata.category(ch)[0] in ("C", "Z") for ch in text)


def check_token(value: object, key: str, method: str) -> str:
    """A secret token: a non-empty string without whitespace or control characters, at most 512 long."""
    if value is None or value == "":
        raise MethodConfigError(f"Missing {key}: the {method} method needs it")
    if not isinstance(value, str):
        raise MethodConfigError(f"{key} must be a string, not {type_name(value)}")
    if len(value) > 4 * MAX_TOKEN_LENGTH:
        raise MethodConfigError(f"{key} is too long: at most {MAX_TOKEN_LENGTH} characters")
    token = value.strip()
    if not token:
        raise MethodConfigError(f"Missing {key}: the {method} method needs it")
    if len(token) > MAX_TOKEN_LENGTH:
        raise MethodConfigError(f"{key} is too long: at most {MAX_TOKEN_LENGTH} characters")
    if has_control_or_space(token):
        raise MethodConfigError(f"{key} must not contain spaces or control characters")
    return token


def url_destination(url: object) -> str | None:
    """Where an http(s) URL sends to, as ``host:port`` (the scheme's port when none is given)."""
    return _url_destination(url) if isinstance(url, str) else None


@lru_cache(maxsize=4096)  # the worker asks for every delivery, of a few URLs
def _url_destination(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{host}:{port}"


def mask_token(value: object) -> str:
    """``********`` plus the last four characters when the secret is 12 characters or longer."""
    if not isinstance(value, str) or is_sealed(value) or len(value) < 12:
        return MASK
    return MASK + value[-4:]


class NotificationMethod:
    """One way a notification reaches people.

    Subclasses set ``name``, ``title``, ``allowed_keys`` and ``secret_fields`` and implement
    ``_validate`` on a dict whose keys have already been checked against ``allowed_keys``.

    Secrets: ``seal`` and ``unseal`` return copies with the values of ``secret_fields`` sealed
    or opened (sealing skips values that are already sealed). ``mask`` returns a copy that is safe
    to show: it never opens anything, and every secret value, sealed or plaintext, is replaced by
    a mask. Plaintext values may keep a harmless hint (the last four characters of a long token,
    the scheme and host of a URL); sealed values become a bare mask. Callers that want the hints
    unseal first, then mask.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    allowed_keys: ClassVar[tuple[str, ...]] = ()
    secret_fields: ClassVar[tuple[str, ...]] = ()

    async def validate(self, config: object, ctx: ValidationContext) -> dict[str, Any]:
        """The normalized plaintext config to store, or MethodConfigError saying what to fix."""
        if config is None:
            config = {}
        if not isinstance(config, dict):
            raise MethodConfigError(f"config for {self.name} must be a JSON object, not {type_name(config)}")
        unknown = [key for key in config if key not in self.allowed_keys]
        if unknown:
            names = ", ".join(describe(str(key), 40) for key in unknown[:5])
            more = f" (and {len(unknown) - 5} more)" if len(unknown) > 5 else ""
            allowed = ", ".join(self.allowed_keys) or "none"
            raise MethodConfigError(
                f"unknown config key(s) for {self.name}: {names}{more}; allowed keys: {allowed}"
            )
        return await self._validate(config, ctx)

    async def _validate(self, config: dict[str, Any], ctx: ValidationContext) -> dict[str, Any]:
        raise NotImplementedError

    async def send(self, config: dict[str, Any], outgoing: Outgoing, senders: Senders) -> SendResult:
        """Deliver one attempt with the plaintext ``config``; report problems in the result, never raise."""
        raise NotImplementedError(f"the {self.name} method cannot send")

    def destination(self, config: dict[str, Any], settings: Settings) -> str | None:
        """Where sends of the plaintext ``config`` go, as ``host:port``; None for no network peer.

        The worker shares each destination's capacity fairly and holds back a slow or dead one
        (``regnotify.delivery.destinations``). The default is the host of the config's ``url``."""
        return url_destination(config.get("url"))

    def seal(self, config: dict[str, Any], box: SecretBox) -> dict[str, Any]:
        result = copy.deepcopy(config)
        for key in self.secret_fields:
            value = result.get(key)
            if isinstance(value, str) and value and not is_sealed(value):
                result[key] = box.seal(value)
        return result

    def unseal(self, config: dict[str, Any], box: SecretBox) -> dict[str, Any]:
        """Open sealed secrets; ValueError when one does not open with ``box``'s key."""
        result = copy.deepcopy(config)
        for key in self.secret_fields:
            value = result.get(key)
            if is_sealed(value):
                result[key] = box.open(value)
        return result

    def mask(self, config: dict[str, Any]) -> dict[str, Any]:
        result = copy.deepcopy(config)
        for key in self.secret_fields:
            if key in result and result[key] is not None:
                value = result[key]
                result[key] = self.mask_sealed(key) if is_sealed(value) else self.mask_value(key, value)
        return result

    def mask_sealed(self, key: str) -> str:
        """The display form of a still-sealed secret: a bare mask, since it is never opened here."""
        return MASK

    def mask_value(self, key: str, value: object) -> str:
        """The display form of one plaintext secret; override for URLs and other shapes."""
        return mask_token(value)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
