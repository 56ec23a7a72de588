"""URL checks shared by the HTTP methods: strict parsing, the SSRF check at create time, masking."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from regnotify.config import parse_allowed_networks
from regnotify.methods.base import MASK, MethodConfigError, ValidationContext, has_control_or_space, type_name
from regnotify.outbound.addresses import (
    ForbiddenAddressError,
    InvalidHostError,
    UnresolvableHostError,
    check_host,
    ends_in_number,
    literal_ip,
)

MAX_URL_LENGTH = 2048
ELLIPSIS = "…"
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOSTNAME_RE = re.compile(rf"^{_LABEL}(?:\.{_LABEL})*\.?$")


@dataclass(frozen=True)
class HttpUrl:
    """A checked http(s) URL: ``url`` is the text to store, ``host`` the ASCII host to connect to."""

    url: str
    scheme: str
    host: str
    port: int | None
    path: str
    query: str

    @property
    def host_port(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"


def _ascii_host(raw: str, label: str) -> str:
    host = raw.lower()
    if literal_ip(host) is not None:  # any numeric form; check_host judges the address
        return host
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError as exc:
            raise MethodConfigError(f"{label} url has an invalid host name") from exc
    if len(host) > 253 or not _HOSTNAME_RE.match(host):
        raise MethodConfigError(f"{label} url has an invalid host name {host[:80]!r}")
    if ends_in_number(host):
        raise MethodConfigError(f"{label} url host {host} looks like an IP address but is not a valid one")
    return host


def parse_http_url(value: object, label: str, schemes: Iterable[str] = ("http", "https")) -> HttpUrl:
    """Check ``value`` as an absolute http(s) URL with a host; MethodConfigError says what is wrong."""
    allowed_schemes = tuple(schemes)
    if value is None or value == "":
        raise MethodConfigError(f"Missing url: the {label} method needs a url")
    if not isinstance(value, str):
        raise MethodConfigError(f"{label} url must be a string, not {type_name(value)}")
    if len(value) > 2 * MAX_URL_LENGTH:
        raise MethodConfigError(f"{label} url is too long: at most {MAX_URL_LENGTH} characters")
    url = value.strip()
    if not url:
        raise MethodConfigError(f"Missing url: the {label} method needs a url")
    if len(url) > MAX_URL_LENGTH:
        raise MethodConfigError(f"{label} url is too long: at most {MAX_URL_LENGTH} characters")
    if has_control_or_space(url) or "\\" in url:
        raise MethodConfigError(f"{label} url must not contain spaces, backslashes or control characters")
    if "#" in url:
        raise MethodConfigError(f"{label} url must not have a fragment (#...)")
    try:
        parts: SplitResult = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise MethodConfigError(f"{label} url is not a valid URL: {exc}") from exc
    scheme = parts.scheme.lower()
    if scheme not in allowed_schemes:
        wanted = " or ".join(allowed_schemes)
        shown = f"'{scheme}'" if scheme else "none"
        raise MethodConfigError(f"{label} url must start with {wanted}:// (scheme is {shown})")
    if not parts.netloc or not parts.hostname:
        raise MethodConfigError(f"{label} url must have a host, e.g. {allowed_schemes[-1]}://example.com/")
    if parts.netloc.count("@") > 1:
        raise MethodConfigError(f"{label} url has more than one '@' in its host part")
    if port == 0:
        raise MethodConfigError(f"{label} url has an invalid port 0")
    host = _ascii_host(parts.hostname, label)
    return HttpUrl(url=url, scheme=scheme, host=host, port=port, path=parts.path, query=parts.query)


async def ensure_public(url: HttpUrl, ctx: ValidationContext, label: str) -> list[str]:
    """The SSRF check at create time: every address the host stands for must be allowed."""
    allowed = parse_allowed_networks(ctx.settings.outbound_allowed_networks)
    try:
        return await check_host(url.host, ctx.resolve_host, allowed)
    except ForbiddenAddressError as exc:
        raise MethodConfigError(
            f"{label} url resolves to a {exc.reason} address ({exc.address}); regnotify does not "
            "send to internal networks unless the operator allows it"
        ) from exc
    except InvalidHostError as exc:
        raise MethodConfigError(f"{label} url: {exc}") from exc
    except UnresolvableHostError as exc:
        raise MethodConfigError(
            f"cannot resolve host {url.host} in the {label} url; check the host name"
        ) from exc


def host_matches(url: HttpUrl, entries: Iterable[str]) -> bool:
    """True when the URL's host, or host:port, is one of ``entries`` (case-insensitive)."""
    names = {url.host.rstrip("."), url.host_port}
    return any(isinstance(entry, str) and entry.strip().lower().rstrip(".") in names for entry in entries)


def mask_url(value: object) -> str:
    """``scheme://host[:port]/…``: no user info, path and query hidden; ``********`` if unparseable."""
    if not isinstance(value, str):
        return MASK
    try:
        parts = urlsplit(value.strip())
        port = parts.port
        host = parts.hostname
    except ValueError:
        return MASK
    if parts.scheme.lower() not in ("http", "https") or not host or has_control_or_space(host):
        return MASK
    shown = f"[{host}]" if ":" in host else host
    if port is not None:
        shown = f"{shown}:{port}"
    tail = "/" + ELLIPSIS if (parts.path not in ("", "/") or parts.query) else parts.path
    return f"{parts.scheme.lower()}://{shown}{tail}"
