"""The SSRF guard at connect time: what is refused, that refused requests reach nobody, DNS rebinding."""

from __future__ import annotations

import pytest
from yarl import URL

from regnotify.methods.hipchat import HipChatMethod
from regnotify.methods.webhook import WebhookMethod
from regnotify.outbound.addresses import check_host
from regnotify.outbound.http import GuardedHttpClient

from .conftest import MakeSenders
from .receiver import Answer, Receiver
from .support import make_outgoing

PUBLIC = "93.184.215.14"


class ScriptedResolver:
    """Answers each lookup with the next list in ``answers`` (the last one repeats); records hosts."""

    def __init__(self, *answers: list[str]) -> None:
        self.answers = list(answers)
        self.hosts: list[str] = []

    async def __call__(self, host: str) -> list[str]:
        self.hosts.append(host)
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_a_literal_loopback_url_is_refused_when_nothing_is_allowed(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    senders = make_senders(outbound_allowed_networks=[])
    result = await WebhookMethod().send({"url": f"{receiver.base_url}/hook"}, make_outgoing(), senders)
    assert not result.ok
    assert result.error == "refused: 127.0.0.1 is a loopback address"
    assert result.permanent
    assert receiver.requests == []


async def test_a_refused_url_stays_refused_and_a_public_one_still_resolves_each_time(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    """The client remembers what it concluded about a URL: the refusal, or that it names a host,
    which the resolver then judges on every new connection as before."""
    resolver = ScriptedResolver(["127.0.0.1"])
    senders = make_senders(resolver=resolver, outbound_allowed_networks=[])
    for _ in range(3):
        literal = await WebhookMethod().send({"url": f"{receiver.base_url}/hook"}, make_outgoing(), senders)
        assert (literal.error, literal.permanent) == ("refused: 127.0.0.1 is a loopback address", True)
        named = await WebhookMethod().send(
            {"url": f"http://hooks.test:{receiver.port}/hook"}, make_outgoing(), senders
        )
        assert not named.ok and "loopback" in (named.error or "")
    assert receiver.requests == []
    assert resolver.hosts == ["hooks.test"] * 3


@pytest.mark.parametrize(
    "host", ["127.1", "0x7f000001", "2130706433", "[::ffff:127.0.0.1]", "[::1]", "0177.0.0.1"]
)
async def test_other_spellings_of_loopback_are_refused(
    receiver: Receiver, make_senders: MakeSenders, host: str
) -> None:
    resolver = ScriptedResolver([PUBLIC])
    senders = make_senders(resolver=resolver, outbound_allowed_networks=[])
    result = await WebhookMethod().send(
        {"url": f"http://{host}:{receiver.port}/hook"}, make_outgoing(), senders
    )
    assert not result.ok
    assert (result.error or "").startswith("refused: ")
    assert "loopback" in (result.error or "")
    assert receiver.requests == []
    assert resolver.hosts == []  # numeric hosts are judged as they are, never looked up


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.1", "private"),
        ("::1", "loopback"),
        ("169.254.169.254", "cloud metadata"),
    ],
)
async def test_a_host_name_resolving_inside_is_refused(
    receiver: Receiver, make_senders: MakeSenders, address: str, reason: str
) -> None:
    resolver = ScriptedResolver([address])
    senders = make_senders(resolver=resolver, outbound_allowed_networks=[])
    url = f"http://hooks.example.test:{receiver.port}/hook"
    result = await WebhookMethod().send({"url": url}, make_outgoing(), senders)
    assert not result.ok
    assert result.error == f"refused: hooks.example.test resolves to {address}, a {reason} address"
    assert resolver.hosts == ["hooks.example.test"]  # the check ran on the connect-time lookup
    assert receiver.requests == []


async def test_one_internal_answer_among_public_ones_is_enough_to_refuse(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    senders = make_senders(resolver=ScriptedResolver([PUBLIC, "127.0.0.1"]), outbound_allowed_networks=[])
    url = f"http://mixed.example.test:{receiver.port}/hook"
    result = await WebhookMethod().send({"url": url}, make_outgoing(), senders)
    assert not result.ok
    assert "127.0.0.1, a loopback address" in (result.error or "")
    assert receiver.requests == []


async def test_an_allowed_range_lets_a_host_name_through(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    resolver = ScriptedResolver(["127.0.0.1"])
    senders = make_senders(resolver=resolver, outbound_allowed_networks=["127.0.0.1/32"])
    url = f"http://hooks.example.test:{receiver.port}/hook"
    result = await WebhookMethod().send({"url": url}, make_outgoing(), senders)
    assert result.ok, result.error
    [request] = receiver.requests
    assert request.headers["Host"] == f"hooks.example.test:{receiver.port}"


async def test_metadata_needs_its_own_entry_even_inside_an_allowed_range(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    resolver = ScriptedResolver(["169.254.169.254"])
    senders = make_senders(resolver=resolver, outbound_allowed_networks=["169.254.0.0/16", "127.0.0.1/32"])
    result = await WebhookMethod().send({"url": "http://meta.example.test/"}, make_outgoing(), senders)
    assert not result.ok
    assert "cloud metadata" in (result.error or "")


async def test_dns_rebinding_is_caught_at_connect(receiver: Receiver, make_senders: MakeSenders) -> None:
    """Public when the notification was validated, loopback when the request connects: refused."""
    resolver = ScriptedResolver([PUBLIC], ["127.0.0.1"])
    assert await check_host("rebind.example.test", resolver, []) == [PUBLIC]  # create-time validation
    senders = make_senders(resolver=resolver, outbound_allowed_networks=[])
    url = f"http://rebind.example.test:{receiver.port}/hook"
    result = await WebhookMethod().send({"url": url}, make_outgoing(), senders)
    assert not result.ok
    assert result.error == "refused: rebind.example.test resolves to 127.0.0.1, a loopback address"
    assert resolver.hosts == ["rebind.example.test", "rebind.example.test"]
    assert receiver.requests == []


async def test_every_new_connection_resolves_again(receiver: Receiver, make_senders: MakeSenders) -> None:
    """No DNS cache: a later answer that moves inside is refused although an earlier one was fine."""
    receiver.answers["/hook"] = Answer(headers={"Connection": "close"})  # no keep-alive: connect again
    resolver = ScriptedResolver(["127.0.0.1"], ["10.1.2.3"])
    senders = make_senders(resolver=resolver, outbound_allowed_networks=["127.0.0.1/32"])
    url = f"http://a.example.test:{receiver.port}/hook"
    first = await WebhookMethod().send({"url": url}, make_outgoing(), senders)
    assert first.ok, first.error
    second = await WebhookMethod().send({"url": url}, make_outgoing(), senders)
    assert not second.ok
    assert "10.1.2.3, a private address" in (second.error or "")
    assert len(receiver.requests) == 1


async def test_aiohttp_does_not_ask_the_resolver_about_ip_literals(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    """Why the client checks literal hosts itself: aiohttp connects to them without resolving."""
    resolver = ScriptedResolver(["127.0.0.1"])
    senders = make_senders(resolver=resolver, outbound_allowed_networks=["127.0.0.1/32"])
    result = await WebhookMethod().send({"url": f"{receiver.base_url}/hook"}, make_outgoing(), senders)
    assert result.ok, result.error
    assert resolver.hosts == []


class NoUrlCheckClient(GuardedHttpClient):
    """The client with its literal-host check switched off, to test the socket-level layer alone."""

    def _check_url(self, url: str) -> URL:
        return URL(url)


async def test_the_socket_factory_refuses_what_slips_past_the_other_checks(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    senders = make_senders(outbound_allowed_networks=[])
    senders.http = NoUrlCheckClient(senders.settings)
    try:
        result = await WebhookMethod().send({"url": f"{receiver.base_url}/hook"}, make_outgoing(), senders)
    finally:
        await senders.http.close()
    assert not result.ok
    assert result.error == "refused: 127.0.0.1 is a loopback address"
    assert receiver.requests == []


async def test_base_urls_from_settings_pass_the_same_guard(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    senders = make_senders(hipchat_base_url=receiver.base_url, outbound_allowed_networks=[])
    config = {"notification_token": "t" * 20, "room_id": "1"}
    result = await HipChatMethod().send(config, make_outgoing(), senders)
    assert not result.ok
    assert result.error == "refused: 127.0.0.1 is a loopback address"
    assert receiver.requests == []


@pytest.mark.parametrize(
    "location",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[::1]:8080/admin",
        "http://10.0.0.1/",
        "http://0x7f000001/",
        "http://inside.example.test/",
    ],
)
async def test_a_redirect_to_an_internal_address_is_not_followed(
    receiver: Receiver, make_senders: MakeSenders, location: str
) -> None:
    receiver.answers["/hook"] = Answer(status=302, headers={"Location": location})
    resolver = ScriptedResolver(["127.0.0.1"], ["10.9.8.7"])
    senders = make_senders(resolver=resolver, outbound_allowed_networks=["127.0.0.1/32"])
    url = f"http://hooks.example.test:{receiver.port}/hook"
    result = await WebhookMethod().send({"url": url}, make_outgoing(), senders)
    assert not result.ok and result.status_code == 302
    assert "redirects are not followed" in (result.error or "")
    assert resolver.hosts == ["hooks.example.test"]  # the redirect's host was never even looked up
    assert receiver.paths() == ["/hook"]
