"""GuardedHttpClient parts that need no server: the resolver, the socket factory, URL checks, TLS setup."""

from __future__ import annotations

import asyncio
import re
import socket
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.streams import EMPTY_PAYLOAD, StreamReader

from regnotify import __version__
from regnotify.config import Settings, parse_allowed_networks
from regnotify.outbound.http import (
    DISCARD_LIMIT,
    EXCERPT_BYTES,
    USER_AGENT,
    GuardedHttpClient,
    OutboundError,
    build_ssl_context,
    read_excerpt,
)
from regnotify.outbound.http_guard import (
    AddressRefusedError,
    GuardedResolver,
    guarded_socket_factory,
    system_resolve,
)


def settings(tmp_path: Path, **changes: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **changes)  # type: ignore[arg-type]


def answers(*addresses: str):  # type: ignore[no-untyped-def]
    calls: list[str] = []

    async def resolve(host: str) -> list[str]:
        calls.append(host)
        return list(addresses)

    resolve.calls = calls  # type: ignore[attr-defined]
    return resolve


async def test_resolver_returns_checked_addresses_for_aiohttp() -> None:
    resolver = GuardedResolver(answers("93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"), [])
    results = await resolver.resolve("example.test", 443, family=socket.AF_UNSPEC)
    assert [(r["host"], r["port"], r["family"], r["hostname"]) for r in results] == [
        ("93.184.215.14", 443, socket.AF_INET, "example.test"),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", 443, socket.AF_INET6, "example.test"),
    ]
    only_v4 = await resolver.resolve("example.test", 80, family=socket.AF_INET)
    assert [r["host"] for r in only_v4] == ["93.184.215.14"]
    await resolver.close()


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("127.0.0.1", "refused: evil.test resolves to 127.0.0.1, a loopback address"),
        ("10.0.0.1", "refused: evil.test resolves to 10.0.0.1, a private address"),
        ("::1", "refused: evil.test resolves to ::1, a loopback address"),
        ("169.254.169.254", "refused: evil.test resolves to 169.254.169.254, a cloud metadata address"),
        ("::ffff:192.168.1.1", "resolves to ::ffff:c0a8:101, a private (IPv4 192.168.1.1 embedded in IPv6)"),
    ],
)
async def test_resolver_refuses_any_internal_answer(address: str, message: str) -> None:
    resolver = GuardedResolver(answers("93.184.215.14", address), [])
    with pytest.raises(AddressRefusedError) as caught:
        await resolver.resolve("evil.test", 80, family=socket.AF_UNSPEC)
    assert message in str(caught.value)


async def test_resolver_honours_allowed_networks() -> None:
    resolver = GuardedResolver(answers("10.0.0.7"), parse_allowed_networks(["10.0.0.0/24"]))
    assert [r["host"] for r in await resolver.resolve("inside.test", 80)] == ["10.0.0.7"]


async def test_resolver_reports_unresolvable_hosts_as_os_errors() -> None:
    with pytest.raises(OSError, match=r"cannot resolve host nowhere\.test"):
        await GuardedResolver(answers(), []).resolve("nowhere.test", 80)


async def test_system_resolver_answers_for_localhost() -> None:
    addresses = await system_resolve("localhost")
    assert addresses
    assert all(":" in a or a.count(".") == 3 for a in addresses)


@pytest.mark.parametrize(
    ("sockaddr", "family"),
    [
        (("127.0.0.1", 80), socket.AF_INET),
        (("::1", 80, 0, 0), socket.AF_INET6),
        (("10.9.8.7", 80), socket.AF_INET),
    ],
)
def test_socket_factory_refuses_forbidden_peers(
    sockaddr: tuple[object, ...], family: socket.AddressFamily
) -> None:
    factory = guarded_socket_factory([])
    with pytest.raises(AddressRefusedError, match=re.escape(f"refused: {sockaddr[0]} is a")):
        factory((family, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", sockaddr))


def test_socket_factory_creates_sockets_for_allowed_peers() -> None:
    factory = guarded_socket_factory(parse_allowed_networks(["127.0.0.1/32"]))
    sock = factory((socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", ("127.0.0.1", 80)))
    try:
        assert sock.family == socket.AF_INET
    finally:
        sock.close()


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/hook", "refused: 10.0.0.1 is a private address"),
        ("http://[fe80::1%25eth0]/hook", "refused: fe80::1 is a link-local address"),
        ("https://169.254.169.254/latest/meta-data", "refused: 169.254.169.254 is a cloud metadata address"),
        ("http://0.0.0.0:8080/", "refused: 0.0.0.0 is an unspecified address"),
        ("ftp://example.test/", "only absolute http and https urls can be sent to"),
        ("/relative/path", "only absolute http and https urls can be sent to"),
    ],
)
async def test_literal_and_malformed_urls_are_refused_before_connecting(
    tmp_path: Path, url: str, message: str
) -> None:
    resolve = answers("93.184.215.14")
    async with GuardedHttpClient(settings(tmp_path), resolver=resolve) as client:
        with pytest.raises(OutboundError) as caught:
            await client.post(url, body=b"{}", headers={})
        assert client._session is None  # refused before a session (or a connection) existed
    assert str(caught.value) == message
    assert caught.value.permanent
    assert resolve.calls == []  # type: ignore[attr-defined]


async def test_close_is_safe_before_and_after_use(tmp_path: Path) -> None:
    client = GuardedHttpClient(settings(tmp_path))
    await client.close()
    session = client._get_session()
    assert client._get_session() is session  # one shared session
    await client.close()
    assert session.closed
    await client.close()


def test_user_agent_names_the_version() -> None:
    assert f"regnotify/{__version__}" == USER_AGENT


def test_tls_files_that_do_not_load_stop_the_client(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="webhook_ca_bundle"):
        GuardedHttpClient(settings(tmp_path, webhook_ca_bundle=tmp_path / "missing.pem"))
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ValueError, match="webhook_client_cert"):
        GuardedHttpClient(settings(tmp_path, webhook_client_cert=bogus, webhook_client_key=bogus))


def test_client_certificate_needs_both_files(tmp_path: Path) -> None:
    half = settings(tmp_path, webhook_client_cert=tmp_path / "only-cert.pem")
    context = build_ssl_context(half, client_cert=True)  # the cert alone is ignored, not loaded
    assert context.verify_mode.name == "CERT_REQUIRED"
    assert context.check_hostname


class _Protocol:
    """What a StreamReader calls back on its connection."""

    def pause_reading(self) -> None:
        pass

    def resume_reading(self, resume_parser: bool = True) -> None:
        pass


class _Response:
    """The parts of aiohttp.ClientResponse that read_excerpt uses; the body is fed in ``chunks``."""

    def __init__(self, *chunks: bytes, eof: bool = True) -> None:
        self.content = StreamReader(_Protocol(), 2**16, loop=asyncio.get_running_loop())  # type: ignore[arg-type]
        for chunk in chunks:
            self.content.feed_data(chunk)
        if eof:
            self.content.feed_eof()
        self.closed = False

    def close(self) -> None:
        self.closed = True


async def excerpt_of(response: Any) -> str:
    return await read_excerpt(response)


async def test_an_empty_body_is_an_empty_excerpt() -> None:
    empty = _Response()
    assert await excerpt_of(empty) == ""
    assert not empty.closed
    no_body = _Response()
    no_body.content = EMPTY_PAYLOAD  # what aiohttp gives a 204 or a Content-Length: 0 answer
    assert await excerpt_of(no_body) == ""


async def test_an_empty_body_that_broke_off_still_raises() -> None:
    response = _Response()
    response.content.set_exception(aiohttp.ClientPayloadError("broken"))
    with pytest.raises(aiohttp.ClientPayloadError):
        await excerpt_of(response)


async def test_a_short_body_is_all_read_and_decoded_leniently() -> None:
    response = _Response(b'{"ok": tr', b'ue, "\xc3\xa9": 1}\xff\xe2\x82')
    assert await excerpt_of(response) == '{"ok": true, "é": 1}\ufffd\ufffd'
    assert response.content.at_eof() and not response.closed


async def test_a_long_body_is_cut_at_4_kib_without_a_half_character() -> None:
    body = b"a" * (EXCERPT_BYTES - 1) + "é".encode() + b"b" * 10_000
    response = _Response(body[:1000], body[1000:])
    assert await excerpt_of(response) == "a" * (EXCERPT_BYTES - 1)
    assert response.content.at_eof() and not response.closed  # the rest was read and dropped
    exact = _Response(b"x" * EXCERPT_BYTES)
    assert await excerpt_of(exact) == "x" * EXCERPT_BYTES
    assert exact.content.at_eof() and not exact.closed


async def test_a_huge_body_closes_the_connection() -> None:
    response = _Response(b"z" * (EXCERPT_BYTES + DISCARD_LIMIT + 64 * 1024 + 1), eof=False)
    assert await excerpt_of(response) == "z" * EXCERPT_BYTES
    assert response.closed
