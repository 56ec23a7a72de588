"""SSRF guard: which IP addresses outbound requests may reach, and host checks on resolved addresses.

Everything that is not plainly public is forbidden: loopback, private, link-local, multicast,
unspecified, reserved, shared, benchmarking and documentation ranges, broadcast, cloud metadata
endpoints, and IPv6 forms that embed one of those IPv4 addresses. The tables are written out here
rather than taken from ``ipaddress``'s ``is_*`` flags, whose meaning changes between Python versions.

An operator may allow ranges (``allowed``); a cloud metadata address is only allowed by an entry
that names exactly that one address (``169.254.169.254/32``), never by a wider range such as
``169.254.0.0/16`` or ``0.0.0.0/0``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

IPAddress = IPv4Address | IPv6Address
IPNetwork = IPv4Network | IPv6Network
Resolver = Callable[[str], Awaitable[list[str]]]


async def system_resolver(host: str) -> list[str]:
    """The addresses ``host`` resolves to through the operating system's resolver."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


def _nets4(*entries: tuple[str, str]) -> tuple[tuple[IPv4Network, str], ...]:
    return tuple((IPv4Network(net), reason) for net, reason in entries)


def _nets6(*entries: tuple[str, str]) -> tuple[tuple[IPv6Network, str], ...]:
    return tuple((IPv6Network(net), reason) for net, reason in entries)


# Cloud metadata endpoints: AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba, Oracle, Azure wire server.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200", "192.0.0.192", "168.63.129.16")
)

FORBIDDEN_V4 = _nets4(
    ("0.0.0.0/32", "unspecified"),
    ("0.0.0.0/8", "'this network'"),
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared address space"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "IETF protocol assignment"),
    ("192.0.2.0/24", "documentation"),
    ("192.88.99.0/24", "reserved (6to4 relay anycast)"),
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("255.255.255.255/32", "broadcast"),
    ("240.0.0.0/4", "reserved"),
)

FORBIDDEN_V6 = _nets6(
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("fc00::/7", "private (unique local)"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local"),
    ("ff00::/8", "multicast"),
    ("64:ff9b:1::/48", "private (local-use NAT64)"),
    ("100::/64", "discard-only"),
    ("2001:db8::/32", "documentation"),
    ("3fff::/20", "documentation"),
    ("2001:2::/48", "benchmarking"),
    ("2001::/23", "IETF protocol assignment"),
)

GLOBAL_UNICAST_V6 = IPv6Network("2000::/3")
IPV4_MAPPED = IPv6Network("::ffff:0:0/96")
IPV4_COMPATIBLE = IPv6Network("::/96")
NAT64 = IPv6Network("64:ff9b::/96")
SIX_TO_FOUR = IPv6Network("2002::/16")
TEREDO = IPv6Network("2001::/32")


class ForbiddenAddressError(ValueError):
    """A host is, or resolves to, an address outbound requests must not reach."""

    def __init__(self, host: str, address: str, reason: str) -> None:
        super().__init__(f"{host} resolves to a {reason} address ({address})")
        self.host = host
        self.address = address
        self.reason = reason


class UnresolvableHostError(ValueError):
    """A host name does not resolve to any usable address."""

    def __init__(self, host: str, detail: str = "") -> None:
        super().__init__(f"cannot resolve host {host}" + (f": {detail}" if detail else ""))
        self.host = host


class InvalidHostError(ValueError):
    """A host that looks numeric (its last label is a number) but is no valid IP address."""

    def __init__(self, host: str) -> None:
        super().__init__(f"host {host} looks like an IP address but is not a valid one")
        self.host = host


def _parse_ipv4_part(part: str) -> int | None:
    if part[:2].lower() == "0x":
        digits = part[2:]
        if digits == "":
            return 0
        return int(digits, 16) if all(c in "0123456789abcdefABCDEF" for c in digits) else None
    if not part.isascii() or not part.isdigit():
        return None
    if len(part) > 1 and part[0] == "0":
        return int(part, 8) if all(c in "01234567" for c in part) else None
    return int(part)


def _parse_ipv4_numeric(host: str) -> IPv4Address | None:
    """Every form inet_aton and browsers accept: ``127.1``, ``0x7f000001``, ``0177.0.0.1``, ``2130706433``."""
    if host.endswith(".") and len(host) > 1:
        host = host[:-1]
    parts = host.split(".")
    if not 1 <= len(parts) <= 4 or any(p == "" or len(p) > 40 for p in parts):
        return None
    numbers = [_parse_ipv4_part(p) for p in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    result = 0
    for n in values[:-1]:
        result = result * 256 + n
    result = result * 256 ** (5 - len(values)) + values[-1]
    return IPv4Address(result)


def literal_ip(host: str) -> IPAddress | None:
    """The address a numeric host stands for, in any notation; None for a host name (or nonsense)."""
    if not isinstance(host, str) or not host or len(host) > 300:
        return None
    text = host.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        text = text.replace("%25", "%").split("%", 1)[0]  # drop a zone id: fe80::1%eth0
        try:
            return IPv6Address(text)
        except ValueError:
            return None
    return _parse_ipv4_numeric(text)


def ends_in_number(host: str) -> bool:
    """True when the last label is numeric, so the host can only be an IPv4 address (WHATWG URL rule)."""
    labels = host.rstrip(".").split(".") if host != "." else [""]
    last = labels[-1]
    if last.isascii() and last.isdigit():
        return True
    return last[:2].lower() == "0x" and all(c in "0123456789abcdefABCDEF" for c in last[2:])


def _coerce(ip: str | IPAddress) -> IPAddress | None:
    if isinstance(ip, IPv4Address | IPv6Address):
        if isinstance(ip, IPv6Address) and ip.scope_id:
            return IPv6Address(str(ip).split("%", 1)[0])
        return ip
    if isinstance(ip, str):
        return literal_ip(ip)
    return None


def embedded_ipv4(address: IPv6Address) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo), if any."""
    if address in IPV4_MAPPED or address in IPV4_COMPATIBLE or address in NAT64:
        return [IPv4Address(int(address) & 0xFFFFFFFF)]
    if address in SIX_TO_FOUR:
        return [IPv4Address((int(address) >> 80) & 0xFFFFFFFF)]
    if address in TEREDO:
        server = IPv4Address((int(address) >> 64) & 0xFFFFFFFF)
        client = IPv4Address(~int(address) & 0xFFFFFFFF)
        return [server, client]
    return []


def _reason_v4(address: IPv4Address) -> str | None:
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    for network, reason in FORBIDDEN_V4:
        if address in network:
            return reason
    return None


def _reason(address: IPAddress) -> str | None:
    if isinstance(address, IPv4Address):
        return _reason_v4(address)
    if address in METADATA_ADDRESSES:
        return "cloud metadata"
    if address == IPv6Address("::"):
        return "unspecified"
    if address == IPv6Address("::1"):
        return "loopback"
    embedded = embedded_ipv4(address)
    if embedded:
        for v4 in embedded:
            reason = _reason_v4(v4)
            if reason is not None:
                return f"{reason} (IPv4 {v4} embedded in IPv6)"
        return None
    for network, reason in FORBIDDEN_V6:
        if address in network:
            return reason
    if address not in GLOBAL_UNICAST_V6:
        return "reserved"
    return None


def _allows(address: IPAddress, allowed: Sequence[IPNetwork]) -> bool:
    candidates: list[IPAddress] = [address]
    if isinstance(address, IPv6Address):
        candidates.extend(embedded_ipv4(address))
    # metadata endpoints (also when embedded in IPv6) need an explicit single-address entry
    metadata = any(candidate in METADATA_ADDRESSES for candidate in candidates)
    for candidate in candidates:
        for network in allowed:
            if candidate.version != network.version or candidate not in network:
                continue
            if metadata and network.num_addresses != 1:
                continue
            return True
    return False


def forbidden_reason(ip: str | IPAddress, allowed: Sequence[IPNetwork] = ()) -> str | None:
    """Why requests must not go to ``ip`` ("loopback", "private", ...), or None when they may."""
    address = _coerce(ip)
    if address is None:
        return "unparseable"
    if allowed and _allows(address, allowed):
        return None
    return _reason(address)


def is_forbidden_address(ip: str | IPAddress, allowed: Sequence[IPNetwork] = ()) -> bool:
    """True when outbound requests must not reach ``ip``. A string that is no address is forbidden."""
    return forbidden_reason(ip, allowed) is not None


async def check_host(host: str, resolve: Resolver, allowed: Sequence[IPNetwork] = ()) -> list[str]:
    """The addresses ``host`` stands for, each checked; raises if any is forbidden or none is found.

    A numeric host is judged as it is and never sent to the resolver. Every resolved address must
    be allowed: one internal answer among public ones is enough to refuse the host.
    """
    address = literal_ip(host)
    if address is not None:
        reason = forbidden_reason(address, allowed)
        if reason is not None:
            raise ForbiddenAddressError(host, str(address), reason)
        return [str(address)]
    if ends_in_number(host):
        raise InvalidHostError(host)
    try:
        answers = await resolve(host)
    except (OSError, ValueError) as exc:  # socket.gaierror, timeouts, IDNA errors
        raise UnresolvableHostError(host, str(exc) or type(exc).__name__) from exc
    if not answers:
        raise UnresolvableHostError(host, "no addresses")
    result: list[str] = []
    for answer in answers:
        parsed = _coerce(answer.split("%", 1)[0]) if isinstance(answer, str) else _coerce(answer)
        if parsed is None:
            raise UnresolvableHostError(host, f"resolver returned {answer!r}, which is no IP address")
        reason = forbidden_reason(parsed, allowed)
        if reason is not None:
            raise ForbiddenAddressError(host, str(parsed), reason)
        if str(parsed) not in result:
            result.append(str(parsed))
    return result
