"""Slack, Microsoft Teams and Discord: service hosts, chat_allowed_hosts, and the SSRF check."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.methods import METHODS, MethodConfigError

from .method_fakes import FakeContext, MakeContext

GOOD: list[tuple[str, str]] = [
    ("slack", "https://hooks.slack.com/services/T000/B000/XXXX"),
    ("slack", "https://HOOKS.SLACK.COM/services/T000/B000/XXXX"),
    ("slack", "https://hooks.slack.com:443/workflows/T000/A000/123/abc"),
    ("msteams", "https://acme.webhook.office.com/webhookb2/abc@def/IncomingWebhook/123/456"),
    (
        "msteams",
        "https://prod-01.westus.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x",
    ),
    ("msteams", "https://default1.environment.api.powerplatform.com/powerautomate/automations/direct/x"),
    ("discord", "https://discord.com/api/webhooks/123/token-abc"),
    ("discord", "https://discordapp.com/api/webhooks/123/token-abc"),
    ("discord", "https://discord.com/api/v10/webhooks/123/token-abc?wait=true"),
]


@pytest.mark.parametrize(("name", "url"), GOOD)
async def test_service_urls_are_accepted(name: str, url: str, ctx: FakeContext) -> None:
    assert await METHODS[name].validate({"url": url}, ctx) == {"url": url}
    assert ctx.lookups  # the SSRF check ran


BAD: list[tuple[str, str, str]] = [
    ("slack", "http://hooks.slack.com/services/T000/B000/XXXX", "must start with https://"),
    ("slack", "https://example.com/services/T000/B000/XXXX", "Slack incoming webhook"),
    ("slack", "https://hooks.slack.com.example.com/services/x", "Slack incoming webhook"),
    ("slack", "https://evilhooks.slack.com/services/x", "Slack incoming webhook"),
    ("slack", "https://hooks.slack.com:8443/services/x", "Slack incoming webhook"),
    ("slack", "https://hooks.slack.com/", "needs the webhook path"),
    ("slack", "ftp://hooks.slack.com/services/x", "must start with http or https://"),
    ("msteams", "http://acme.webhook.office.com/webhookb2/x", "must start with https://"),
    ("msteams", "https://webhook.office.com.example.com/x", "Teams incoming webhook"),
    ("msteams", "https://example.com/webhookb2/x", "Teams incoming webhook"),
    ("msteams", "https://evilwebhook.office.com/x", "Teams incoming webhook"),
    ("msteams", "https://acme.webhook.office.com", "needs the webhook path"),
    ("discord", "http://discord.com/api/webhooks/1/x", "must start with https://"),
    ("discord", "https://discord.com/channels/1/2", "must start with /api/webhooks/"),
    ("discord", "https://discord.com/api/users/1", "must start with /api/webhooks/"),
    ("discord", "https://discord.com/api/webhooks/", "must start with /api/webhooks/"),
    ("discord", "https://discord.gg/api/webhooks/1/x", "Discord webhook"),
    ("discord", "https://discord.com.example.com/api/webhooks/1/x", "Discord webhook"),
]


@pytest.mark.parametrize(("name", "url", "message"), BAD)
async def test_other_urls_are_refused(name: str, url: str, message: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=message):
        await METHODS[name].validate({"url": url}, ctx)
    assert ctx.lookups == []


@pytest.mark.parametrize("name", ["slack", "msteams", "discord"])
async def test_chat_allowed_hosts_allow_local_receivers(name: str, make_ctx: MakeContext) -> None:
    ctx = make_ctx(
        chat_allowed_hosts=["chat.test", "Receiver.Test:8099"], outbound_allowed_networks=["127.0.0.1"]
    )
    ctx.dns.update({"chat.test": ["127.0.0.1"], "receiver.test": ["127.0.0.1"]})
    for url in ("http://chat.test/anything", "https://chat.test:9000/x", "http://receiver.test:8099/hook"):
        assert await METHODS[name].validate({"url": url}, ctx) == {"url": url}
    with pytest.raises(MethodConfigError):  # host:port entries allow only that port
        await METHODS[name].validate({"url": "http://receiver.test:8100/hook"}, ctx)


@pytest.mark.parametrize("name", ["slack", "msteams", "discord"])
async def test_chat_allowed_hosts_still_get_the_ssrf_check(name: str, make_ctx: MakeContext) -> None:
    ctx = make_ctx(chat_allowed_hosts=["chat.test"])
    ctx.dns["chat.test"] = ["127.0.0.1"]
    with pytest.raises(MethodConfigError, match=r"resolves to a loopback address \(127\.0\.0\.1\)"):
        await METHODS[name].validate({"url": "http://chat.test/x"}, ctx)


@pytest.mark.parametrize(("name", "url"), [GOOD[0], GOOD[3], GOOD[6]])
async def test_service_host_resolving_inside_is_refused(name: str, url: str, ctx: FakeContext) -> None:
    for host in list(ctx.dns):
        ctx.dns[host] = ["10.0.0.7"]  # e.g. a poisoned resolver
    with pytest.raises(MethodConfigError, match="private address"):
        await METHODS[name].validate({"url": url}, ctx)


@pytest.mark.parametrize("name", ["slack", "msteams", "discord"])
@pytest.mark.parametrize(
    ("value", "message"), [(None, "Missing url"), ("", "Missing url"), (5, "must be a string")]
)
async def test_missing_or_wrong_type(name: str, value: Any, message: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=message):
        await METHODS[name].validate({"url": value}, ctx)


@pytest.mark.parametrize(("name", "url"), GOOD)
async def test_mask_shows_only_scheme_and_host(name: str, url: str, ctx: FakeContext) -> None:
    masked = METHODS[name].mask({"url": url})["url"]
    assert masked.endswith("/…")
    assert "token" not in masked
    assert "T000" not in masked
    assert "abc" not in masked
