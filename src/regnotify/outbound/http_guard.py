"""The SSRF guard inside aiohttp's connector: a resolver and a socket factory that refuse internal addresses.

``GuardedResolver`` resolves host names with an injectable resolver and refuses the host when ANY
answer is forbidden (``delivery.addresses``), so aiohttp only ever sees allowed addresses.
``guarded_socket_factory`` judges the exact peer address of every socket aiohttp opens, which also
covers IP-literal hosts: aiohttp connects to those without asking the resolver.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp.abc import AbstractResolver, ResolveResult

from regnotify.outbound.addresses import (
    ForbiddenAddressError,
    InvalidHostError,
    IPNetwork,
    UnresolvableHostError,
    check_host,
    forbidden_reason,
    literal_ip,
)

Resolver = Callable[[str], Awaitable[list[str]]]


class AddressRefusedError(OSError):
    """Raised inside the connector when the SSRF guard refuses an address."""


async def system_resolve(host: str) -> list[str]:
    """The addresses the system resolver gives for ``host``, in its order, without duplicates."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    addresses: list[str] = []
    for _family, _type, _proto, _name, sockaddr in infos:
        address = str(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _a(reason: str) -> str:
    return f"an {reason}" if reason[:1].lower() in ("a", "e", "i", "o", "u") else f"a {reason}"


def refused(address: object, reason: str) -> str:
    """``refused: 127.0.0.1 is a loopback address``."""
    return f"refused: {address} is {_a(reason)} address"


def refusal_text(exc: ForbiddenAddressError) -> str:
    """``refused: 127.0.0.1 is a loopback address`` (or ``refused: x.test resolves to ...``)."""
    if literal_ip(exc.host) is not None:
        return refused(exc.address, exc.reason)
    return f"refused: {exc.host} resolves to {exc.address}, {_a(exc.reason)} address"


class GuardedResolver(AbstractResolver):
    """An aiohttp resolver that answers only with addresses the SSRF guard allows."""

    def __init__(self, resolve: Resolver, allowed: Sequence[IPNetwork]) -> None:
        self._resolve = resolve
        self._allowed = list(allowed)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        try:
            addresses = await check_host(host, self._resolve, self._allowed)
        except ForbiddenAddressError as exc:
            raise AddressRefusedError(refusal_text(exc)) from exc
        except (UnresolvableHostError, InvalidHostError) as exc:
            raise OSError(str(exc)) from exc
        results: list[ResolveResult] = []
        for address in addresses:
            address_family = socket.AF_INET6 if ":" in address else socket.AF_INET
            if family not in (socket.AF_UNSPEC, address_family):
                continue
            results.append(
                {
                    "hostname": host,
                    "host": address,
                    "port": port,
                    "family": address_family,
                    "proto": 0,
                    "flags": socket.AI_NUMERICHOST,
                }
            )
        if not results:
            raise OSError(f"cannot resolve host {host}: no address of the wanted family")
        return results

    async def close(self) -> None:
        return None


def guarded_socket_factory(allowed: Sequence[IPNetwork]) -> Callable[[Any], socket.socket]:
    """A socket factory for aiohttp that refuses to create a socket for a forbidden peer address."""
    networks = list(allowed)

    def factory(addr_info: Any) -> socket.socket:
        family, type_, proto, _canonname, sockaddr = addr_info
        address = str(sockaddr[0])
        reason = forbidden_reason(address, networks)
        if reason is not None:
            raise AddressRefusedError(refused(address.split("%", 1)[0], reason))
        return socket.socket(family=family, type=type_, proto=proto)

    return factory


def find_refusal(exc: BaseException) -> AddressRefusedError | None:
    seen: set[int] = set()
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, AddressRefusedError):
            return current
        pending.extend([current.__cause__, current.__context__, getattr(current, "os_error", None)])
    return None
