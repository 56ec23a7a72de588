"""The SSRF guard: numeric host forms, forbidden ranges, embedded IPv4, allowed ranges, resolved hosts."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from regnotify.config import parse_allowed_networks
from regnotify.outbound.addresses import (
    ForbiddenAddressError,
    InvalidHostError,
    UnresolvableHostError,
    check_host,
    forbidden_reason,
    is_forbidden_address,
    literal_ip,
)

# (address as written, category word expected in the reason)
FORBIDDEN: list[tuple[str, str]] = [
    # IPv4 loopback, written every way a resolver or browser accepts
    ("127.0.0.1", "loopback"),
    ("127.255.255.254", "loopback"),
    ("127.1", "loopback"),
    ("127.0.1", "loopback"),
    ("2130706433", "loopback"),
    ("0x7f000001", "loopback"),
    ("0X7F000001", "loopback"),
    ("0x7f.0x0.0x0.0x1", "loopback"),
    ("0177.0.0.1", "loopback"),
    ("0177.1", "loopback"),
    ("017700000001", "loopback"),
    ("127.0.0.1.", "loopback"),
    ("0x7f.1", "loopback"),
    # unspecified / this network
    ("0", "unspecified"),
    ("0.0.0.0", "unspecified"),  # noqa: S104
    ("0x0", "unspecified"),
    ("0.1.2.3", "this network"),
    # private
    ("10.0.0.1", "private"),
    ("10.255.255.255", "private"),
    ("012.0.0.1", "private"),
    ("167772161", "private"),
    ("172.16.0.1", "private"),
    ("172.31.255.255", "private"),
    ("192.168.0.1", "private"),
    ("0xc0a80001", "private"),
    ("192.168.1", "private"),
    # link-local and cloud metadata
    ("169.254.1.1", "link-local"),
    ("169.254.169.254", "cloud metadata"),
    ("2852039166", "cloud metadata"),
    ("0xa9fea9fe", "cloud metadata"),
    ("0251.0376.0251.0376", "cloud metadata"),
    ("100.100.100.200", "cloud metadata"),
    ("168.63.129.16", "cloud metadata"),
    ("192.0.0.192", "cloud metadata"),
    ("fd00:ec2::254", "cloud metadata"),
    # shared, protocol assignments, benchmarking, documentation
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("192.0.0.8", "IETF protocol assignment"),
    ("198.18.0.1", "benchmarking"),
    ("198.19.255.255", "benchmarking"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.7", "documentation"),
    ("203.0.113.9", "documentation"),
    ("192.88.99.1", "reserved"),
    # multicast, reserved, broadcast
    ("224.0.0.1", "multicast"),
    ("239.255.255.250", "multicast"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.254", "reserved"),
    ("255.255.255.255", "broadcast"),
    ("4294967295", "broadcast"),
    # IPv6 native
    ("::1", "loopback"),
    ("[::1]", "loopback"),
    ("0:0:0:0:0:0:0:1", "loopback"),
    ("::", "unspecified"),
    ("[::]", "unspecified"),
    ("fc00::1", "unique local"),
    ("fd12:3456:789a::1", "unique local"),
    ("fe80::1", "link-local"),
    ("fe80::1%eth0", "link-local"),
    ("[fe80::1%25eth0]", "link-local"),
    ("febf::1", "link-local"),
    ("fec0::1", "site-local"),
    ("ff02::1", "multicast"),
    ("ff05::2", "multicast"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("100::1", "discard"),
    ("64:ff9b:1::1", "local-use NAT64"),
    ("2001:2::1", "benchmarking"),
    ("2001:10::1", "IETF protocol assignment"),
    ("4000::1", "reserved"),
    ("1::1", "reserved"),
    ("5f00::1", "reserved"),
    # IPv6 forms carrying a forbidden IPv4 address
    ("::ffff:127.0.0.1", "loopback (IPv4 127.0.0.1"),
    ("[::ffff:127.0.0.1]", "loopback"),
    ("::ffff:7f00:1", "loopback"),
    ("0:0:0:0:0:ffff:7f00:0001", "loopback"),
    ("::ffff:169.254.169.254", "cloud metadata"),
    ("::ffff:10.0.0.1", "private"),
    ("::ffff:0.0.0.0", "unspecified"),
    ("::127.0.0.1", "loopback"),
    ("::10.1.2.3", "private"),
    ("::a9fe:a9fe", "cloud metadata"),
    ("64:ff9b::127.0.0.1", "loopback"),
    ("64:ff9b::a9fe:a9fe", "cloud metadata"),
    ("64:ff9b::192.168.0.1", "private"),
    ("2002:7f00:1::", "loopback"),
    ("2002:a9fe:a9fe::1", "cloud metadata"),
    ("2002:c0a8:0101:1::1", "private"),
    ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "documentation"),  # RFC 4380 example: client 192.0.2.45
    ("2001:0:7f00:1:0:0:0808:0808", "loopback"),  # Teredo server 127.0.0.1
    ("2001:0:0808:0808:0:0:f5ff:fffe", "private"),  # Teredo client ~f5fffffe = 10.0.0.1
]

PUBLIC = [
    "8.8.8.8",
    "1.1.1.1",
    "93.184.215.14",
    "140.82.112.3",
    "9.9.9.9",
    "100.63.255.255",  # just below the shared range
    "100.128.0.0",  # just above it
    "172.15.255.255",
    "172.32.0.0",
    "192.167.255.255",
    "198.17.255.255",
    "198.20.0.0",
    "169.253.255.255",
    "223.255.255.255",
    "11.0.0.1",
    "134744072",  # 8.8.8.8 as a number
    "0x08080808",
    "2606:4700:4700::1111",
    "2001:4860:4860::8888",
    "2a00:1450:4001:82a::200e",
    "[2620:fe::fe]",
    "::ffff:8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:0808:0808::1",
    "2001:0:0808:0808:0:0:f7f7:f7f7",  # Teredo server 8.8.8.8, client 8.8.8.8
]


@pytest.mark.parametrize(("address", "reason"), FORBIDDEN)
def test_forbidden_addresses(address: str, reason: str) -> None:
    assert is_forbidden_address(address)
    found = forbidden_reason(address)
    assert found is not None
    assert reason in found


def test_the_forbidden_table_is_large() -> None:
    assert len(FORBIDDEN) >= 40


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_forbidden_address(address)
    assert forbidden_reason(address) is None


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),  # noqa: S104
        ("0x", "0.0.0.0"),  # noqa: S104
        ("1.0x10.010.9", "1.16.8.9"),
        ("10.1.65535", "10.1.255.255"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("[fe80::1%25en0]", "fe80::1"),
        ("8.8.8.8.", "8.8.8.8"),
    ],
)
def test_literal_ip_recognises_numeric_forms(host: str, address: str) -> None:
    assert literal_ip(host) == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "localhost",
        "1.2.3.4.5",
        "256.1.1.1",
        "1.2.3.256",
        "1.2.65536",
        "4294967296",
        "08.0.0.1",
        "0x1g.0.0.1",
        "1..2.3",
        "",
        ".",
        "[example.com]",
        "::1::2",
        "1.2.3.4 ",
        "١٢٧.0.0.1",
        "127.0.0.1x",
    ],
)
def test_literal_ip_returns_none_for_names_and_nonsense(host: str) -> None:
    if host == "1.2.3.4 ":
        assert literal_ip(host) == ipaddress.ip_address("1.2.3.4")  # surrounding space is ignored
    else:
        assert literal_ip(host) is None


def test_address_objects_and_unparseable_strings() -> None:
    assert is_forbidden_address(ipaddress.ip_address("10.0.0.1"))
    assert not is_forbidden_address(ipaddress.ip_address("8.8.8.8"))
    assert is_forbidden_address(ipaddress.IPv6Address("fe80::1%eth0"))
    assert is_forbidden_address("not an address")  # fail closed
    assert forbidden_reason("example.com") == "unparseable"


def test_parse_allowed_networks() -> None:
    assert parse_allowed_networks(["127.0.0.1", " 10.0.0.0/8 ", "::1", "192.168.1.7/24"]) == [
        ipaddress.ip_network("127.0.0.1/32"),
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("::1/128"),
        ipaddress.ip_network("192.168.1.0/24"),
    ]
    assert parse_allowed_networks([]) == []
    for bad in (["nonsense"], ["10.0.0.0/33"], ["example.com"]):
        with pytest.raises(ValueError, match="invalid allowed network"):
            parse_allowed_networks(bad)


def test_allowed_networks_override() -> None:
    allowed = parse_allowed_networks(["127.0.0.1", "10.20.0.0/16", "fd00:1234::/32"])
    assert not is_forbidden_address("127.0.0.1", allowed)
    assert not is_forbidden_address("127.1", allowed)
    assert not is_forbidden_address("::ffff:127.0.0.1", allowed)  # same address, mapped
    assert is_forbidden_address("127.0.0.2", allowed)
    assert is_forbidden_address("::1", allowed)
    assert not is_forbidden_address("10.20.5.5", allowed)
    assert is_forbidden_address("10.21.0.1", allowed)
    assert not is_forbidden_address("fd00:1234::5", allowed)
    assert is_forbidden_address("fd00:1235::5", allowed)
    assert not is_forbidden_address("8.8.8.8", allowed)


def test_metadata_needs_an_exact_allowed_entry() -> None:
    wide = parse_allowed_networks(["169.254.0.0/16", "0.0.0.0/0", "::/0"])
    assert not is_forbidden_address("169.254.1.1", wide)
    assert is_forbidden_address("169.254.169.254", wide)
    assert is_forbidden_address("::ffff:169.254.169.254", wide)
    assert is_forbidden_address("fd00:ec2::254", wide)
    exact = parse_allowed_networks(["169.254.169.254/32"])
    assert not is_forbidden_address("169.254.169.254", exact)
    assert not is_forbidden_address("::ffff:169.254.169.254", exact)
    assert is_forbidden_address("100.100.100.200", exact)


class FakeResolver:
    """An injected resolver: a dict of answers, recording each lookup."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.calls: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.calls.append(host)
        if host not in self.table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return self.table[host]


def resolver(table: dict[str, list[str]]) -> FakeResolver:
    return FakeResolver(table)


DNS = {
    "public.example": ["93.184.215.14", "2606:2800:220:1::1"],
    "loopback.example": ["127.0.0.1"],
    "v6loop.example": ["::1"],
    "mapped.example": ["::ffff:10.0.0.1"],
    "mixed.example": ["93.184.215.14", "169.254.169.254"],
    "zoned.example": ["fe80::1%eth0"],
    "empty.example": [],
    "garbage.example": ["not-an-ip"],
    "dup.example": ["8.8.8.8", "8.8.8.8"],
}


async def test_check_host_returns_public_addresses() -> None:
    resolve = resolver(DNS)
    assert await check_host("public.example", resolve) == ["93.184.215.14", "2606:2800:220:1::1"]
    assert await check_host("dup.example", resolve) == ["8.8.8.8"]


@pytest.mark.parametrize(
    ("host", "address", "reason"),
    [
        ("loopback.example", "127.0.0.1", "loopback"),
        ("v6loop.example", "::1", "loopback"),
        ("mapped.example", "::ffff:a00:1", "private"),
        ("mixed.example", "169.254.169.254", "cloud metadata"),
        ("zoned.example", "fe80::1", "link-local"),
    ],
)
async def test_check_host_refuses_names_resolving_inside(host: str, address: str, reason: str) -> None:
    with pytest.raises(ForbiddenAddressError) as info:
        await check_host(host, resolver(DNS))
    assert info.value.host == host
    assert info.value.address == address
    assert reason in info.value.reason
    assert address in str(info.value)


@pytest.mark.parametrize("host", ["127.0.0.1", "0x7f000001", "[::1]", "::ffff:127.0.0.1", "017700000001"])
async def test_check_host_judges_numeric_hosts_without_dns(host: str) -> None:
    resolve = resolver(DNS)
    with pytest.raises(ForbiddenAddressError):
        await check_host(host, resolve)
    assert resolve.calls == []


async def test_check_host_numeric_public() -> None:
    resolve = resolver(DNS)
    assert await check_host("134744072", resolve) == ["8.8.8.8"]
    assert resolve.calls == []


@pytest.mark.parametrize("host", ["1.2.3.999", "4294967296", "08.1.1.1", "a.b.0x1g"])
async def test_check_host_refuses_broken_numeric_hosts(host: str) -> None:
    if host == "a.b.0x1g":  # last label is not a number: a name like any other
        with pytest.raises(UnresolvableHostError):
            await check_host(host, resolver(DNS))
        return
    with pytest.raises(InvalidHostError):
        await check_host(host, resolver(DNS))


@pytest.mark.parametrize("host", ["nowhere.example", "empty.example", "garbage.example"])
async def test_check_host_unresolvable(host: str) -> None:
    with pytest.raises(UnresolvableHostError) as info:
        await check_host(host, resolver(DNS))
    assert info.value.host == host


async def test_check_host_with_allowed_networks() -> None:
    allowed = parse_allowed_networks(["127.0.0.0/8"])
    assert await check_host("loopback.example", resolver(DNS), allowed) == ["127.0.0.1"]
    assert await check_host("127.0.0.1", resolver(DNS), allowed) == ["127.0.0.1"]
    with pytest.raises(ForbiddenAddressError):
        await check_host("v6loop.example", resolver(DNS), allowed)


async def test_resolver_timeouts_are_unresolvable() -> None:
    async def slow(host: str) -> list[str]:
        raise TimeoutError("took too long")

    with pytest.raises(UnresolvableHostError, match="took too long"):
        await check_host("slow.example", slow)
