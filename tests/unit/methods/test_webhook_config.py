"""The webhook method: URL rules, the SSRF check at create time, templates, and signing secrets."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy
from standardwebhooks.webhooks import Webhook

from regnotify.config import Settings
from regnotify.events import RepositoryRef, get_event_kind
from regnotify.methods import METHODS, MethodConfigError
from regnotify.methods.cloudevents import CloudEventRequest, cloud_event_request
from regnotify.methods.http_send import encode_json
from regnotify.methods.sending import Message, Outgoing
from regnotify.methods.webhook import generate_secret, secret_bytes, sign
from regnotify.outbound.http import HttpResult

from .method_fakes import FakeContext, MakeContext

METHOD = METHODS["webhook"]


def whsec(n: int) -> str:
    return "whsec_" + base64.b64encode(bytes(range(n))).decode()


@pytest.mark.parametrize(
    "url",
    [
        "https://example.com/hooks/1",
        "http://example.com",
        "HTTPS://example.com/x?a=1&b=2",
        "https://user:pass@example.com/x",
        "https://example.com:8443/x",
        "http://93.184.215.14/hook",
        "http://[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:8080/",
        "https://bücher.example/x",
        "https://example.com./x",
    ],
)
async def test_good_urls_are_stored_as_given(url: str, ctx: FakeContext) -> None:
    assert await METHOD.validate({"url": f"  {url} "}, ctx) == {"url": url}


async def test_host_names_are_resolved_through_the_context(ctx: FakeContext) -> None:
    await METHOD.validate({"url": "https://bücher.example/x"}, ctx)
    assert ctx.lookups == ["xn--bcher-kva.example"]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.com/x", "must start with http or https://"),
        ("file:///etc/passwd", "must start with http or https://"),
        ("gopher://example.com", "must start with"),
        ("javascript:alert(1)", "must start with"),
        ("example.com/hook", "must start with"),
        ("//example.com/hook", "scheme is none"),
        ("http://", "must have a host"),
        ("http:///path", "must have a host"),
        ("https://user@/x", "must have a host"),
        ("https://example.com/x#frag", "fragment"),
        ("https://example.com/x#", "fragment"),
        ("https://exa mple.com/", "spaces"),
        ("https://example.com/\x00", "control"),
        ("https://example.com\\@evil.com/", "backslash"),
        ("https://a@b@example.com/", "more than one '@'"),
        ("https://example.com:99999/", "not a valid URL"),
        ("https://example.com:port/", "not a valid URL"),
        ("https://example.com:0/", "port 0"),
        ("http://[::1/", "not a valid URL"),
        ("https://exa$mple.com/", "invalid host name"),
        ("https://-example.com/", "invalid host name"),
        ("https://" + "a" * 64 + ".com/", "invalid host name"),
        ("https://1.2.3.999/", "looks like an IP address"),
        ("https://example.com/" + "a" * 2100, "too long"),
        ("https://example.com/" + "a" * 10_000, "too long"),
    ],
)
async def test_bad_urls(url: str, message: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=message):
        await METHOD.validate({"url": url}, ctx)
    assert ctx.lookups == []  # nothing is resolved before the URL itself is fine


@pytest.mark.parametrize("value", [None, "", "   "])
async def test_missing_url(value: Any, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="Missing url"):
        await METHOD.validate({"url": value, "template": "{}"}, ctx)


@pytest.mark.parametrize("value", [5, ["https://example.com"], {"href": "x"}, True])
async def test_url_wrong_type(value: Any, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="url must be a string"):
        await METHOD.validate({"url": value}, ctx)


@pytest.mark.parametrize(
    ("url", "address"),
    [
        ("http://localhost/", "127.0.0.1"),
        ("http://127.0.0.1:8080/", "127.0.0.1"),
        ("http://127.1/", "127.0.0.1"),
        ("http://2130706433/", "127.0.0.1"),
        ("http://0x7f000001/", "127.0.0.1"),
        ("http://0177.0.0.1/", "127.0.0.1"),
        ("http://0/", "0.0.0.0"),  # noqa: S104
        ("http://[::1]/", "::1"),
        ("http://[::ffff:127.0.0.1]/", "::ffff:7f00:1"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
        ("http://10.1.2.3/", "10.1.2.3"),
        ("http://internal.example.com/", "10.0.0.5"),
        ("http://metadata.google.internal/", "169.254.169.254"),
        ("http://rebind.example.com/", "192.168.1.1"),
    ],
)
async def test_internal_addresses_are_refused(url: str, address: str, make_ctx: MakeContext) -> None:
    ctx = make_ctx()
    ctx.dns.update(
        {
            "localhost": ["127.0.0.1", "::1"],
            "internal.example.com": ["10.0.0.5"],
            "metadata.google.internal": ["169.254.169.254"],
            "rebind.example.com": ["93.184.215.14", "192.168.1.1"],
        }
    )
    with pytest.raises(MethodConfigError) as info:
        await METHOD.validate({"url": url}, ctx)
    message = str(info.value)
    assert message.startswith("webhook url resolves to a ")
    assert f"({address})" in message
    assert "regnotify does not send to internal networks unless the operator allows it" in message


async def test_operator_can_allow_an_internal_range(make_ctx: MakeContext) -> None:
    ctx = make_ctx(outbound_allowed_networks=["10.20.0.0/16", "127.0.0.1"])
    ctx.dns["ci.internal"] = ["10.20.3.4"]
    stored = await METHOD.validate({"url": "http://ci.internal:8080/hook"}, ctx)
    assert stored == {"url": "http://ci.internal:8080/hook"}
    await METHOD.validate({"url": "http://127.0.0.1:9000/"}, ctx)
    with pytest.raises(MethodConfigError, match=r"10\.30\.0\.1"):
        await METHOD.validate({"url": "http://10.30.0.1/"}, ctx)


async def test_unresolvable_host(ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError) as info:
        await METHOD.validate({"url": "https://no-such-host.example.org/x"}, ctx)
    assert str(info.value) == (
        "cannot resolve host no-such-host.example.org in the webhook url; check the host name"
    )


async def test_empty_resolution(ctx: FakeContext) -> None:
    ctx.dns["empty.example.org"] = []
    with pytest.raises(MethodConfigError, match=r"cannot resolve host empty\.example\.org"):
        await METHOD.validate({"url": "https://empty.example.org/x"}, ctx)


TEMPLATE = '{"repo": "${repository}", "tags": "${updated_tags}", "text": "pushed ${updated_tags[*]}"}'


async def test_template_is_checked_and_stored_as_text(ctx: FakeContext) -> None:
    stored = await METHOD.validate({"url": "https://example.com/x", "template": TEMPLATE}, ctx)
    assert stored == {"url": "https://example.com/x", "template": TEMPLATE}


async def test_template_given_as_object_is_stored_as_json_text(ctx: FakeContext) -> None:
    template = {"text": "${repository}"}
    stored = await METHOD.validate({"url": "https://example.com/x", "template": template}, ctx)
    assert json.loads(stored["template"]) == template


@pytest.mark.parametrize("template", [None, "", "   "])
async def test_blank_template_is_dropped(template: Any, ctx: FakeContext) -> None:
    stored = await METHOD.validate({"url": "https://example.com/x", "template": template}, ctx)
    assert stored == {"url": "https://example.com/x"}


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"a": "${unclosed"}', "unclosed"),
        ('{"a": "${}"}', "empty expression"),
        ('{"a": "${a..b}"}', "not supported"),
        ('{"a": NaN}', "not valid JSON"),
        ("[" * 40 + "]" * 40, "nested deeper"),
        ('"' + "x" * 70_000 + '"', "larger than 64 KiB"),
        ("5" * 5000, "not valid JSON"),
    ],
)
async def test_bad_templates(template: str, message: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=message) as info:
        await METHOD.validate({"url": "https://example.com/x", "template": template}, ctx)
    assert str(info.value).startswith("webhook template is invalid: ")


@pytest.mark.parametrize("template", [5, True])
async def test_template_wrong_type(template: Any, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="template must be JSON text"):
        await METHOD.validate({"url": "https://example.com/x", "template": template}, ctx)


@pytest.mark.parametrize("request_secret", [True, "generate"])
async def test_secret_can_be_generated(request_secret: Any, ctx: FakeContext) -> None:
    first = await METHOD.validate({"url": "https://example.com/x", "secret": request_secret}, ctx)
    second = await METHOD.validate({"url": "https://example.com/x", "secret": request_secret}, ctx)
    secret = first["secret"]
    assert secret.startswith("whsec_")
    assert len(secret_bytes(secret)) == 32
    assert secret != second["secret"]


@pytest.mark.parametrize("n", [24, 32, 64])
async def test_given_secret_is_kept(n: int, ctx: FakeContext) -> None:
    stored = await METHOD.validate({"url": "https://example.com/x", "secret": f" {whsec(n)} "}, ctx)
    assert stored["secret"] == whsec(n)


@pytest.mark.parametrize("value", [None, False, ""])
async def test_no_secret(value: Any, ctx: FakeContext) -> None:
    assert await METHOD.validate({"url": "https://example.com/x", "secret": value}, ctx) == {
        "url": "https://example.com/x"
    }


@pytest.mark.parametrize(
    "value",
    [
        "hunter2",
        "whsec_",
        "whsec_not-base64!!",
        whsec(16),
        whsec(65),
        whsec(32)[:-1],
        "WHSEC_" + whsec(32)[6:],
        whsec(32) + "x" * 300,
        5,
        ["generate"],
        {"generate": True},
    ],
)
async def test_bad_secrets(value: Any, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="whsec_"):
        await METHOD.validate({"url": "https://example.com/x", "secret": value}, ctx)


def test_generated_secrets_follow_standard_webhooks() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[6:], validate=True)) == 32


async def test_mask_hides_url_and_secret(ctx: FakeContext) -> None:
    url = "https://bob:pw1234567@example.com:8443/hook/abcdef123456?token=qwerty987"
    stored = await METHOD.validate({"url": url, "secret": True, "template": TEMPLATE}, ctx)
    masked = METHOD.mask(stored)
    assert masked == {"url": "https://example.com:8443/…", "secret": "whsec_********", "template": TEMPLATE}
    shown = json.dumps(masked)
    for part in ("bob", "pw1234567", "abcdef123456", "qwerty987", stored["secret"][6:]):
        assert part not in shown


class _CannedHttp:
    """Records each POST and answers 204."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    async def post(self, url: str, *, body: bytes, headers: dict[str, str], client_cert: bool = False) -> Any:
        self.calls.append({"url": url, "body": body, "headers": headers, "client_cert": client_cert})
        return HttpResult(
            status=204, headers=CIMultiDictProxy(CIMultiDict()), body_excerpt="", duration_ms=1.0
        )


@dataclass
class _Senders:
    settings: Settings
    http: _CannedHttp = field(default_factory=_CannedHttp)
    mail: Any = None
    inbox: Any = None


@pytest.mark.parametrize("fmt", [None, "cloudevents", "cloudevents-binary"])
async def test_send_posts_the_event_json_once_encoded_and_signed(fmt: str | None, tmp_path: Any) -> None:
    repo = RepositoryRef("acme", "app", "registry.test", "https://regnotify.test")
    payload = get_event_kind("repo_push").sample_payload(repo)
    message = Message("repo_push", payload)
    senders = _Senders(Settings(data_dir=tmp_path / "data"))
    secret = whsec(32)
    config = {"url": "https://user:pw@example.com/hook/abc?token=t", "secret": secret}
    if fmt:
        config["format"] = fmt
    for n in (1, 2):  # two notifications of one event: its JSON is encoded once, for the first
        outgoing = Outgoing(
            f"msg_{n}", 1, "repo_push", dict(payload), message, "acme/app", "acme", f"u{n}", None
        )
        result = await METHOD.send(config, outgoing, senders)  # type: ignore[arg-type]
        assert result.ok and result.status_code == 204
        call = senders.http.calls[-1]
        data = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        expected = (
            cloud_event_request(fmt, outgoing, senders.settings.base_url, data)
            if fmt
            else CloudEventRequest(data, {})
        )
        stamp = call["headers"]["webhook-timestamp"]
        signature = sign(secret, f"msg_{n}", int(stamp), expected.body)
        assert call["body"] == expected.body
        assert list(call["headers"].items()) == list(
            {
                "Content-Type": "application/json",
                **{
                    "Content-Type": "application/json",
                    "X-Regnotify-Event": "repo_push",
                    "webhook-id": f"msg_{n}",
                    "webhook-timestamp": stamp,
                    "webhook-signature": signature,
                },
                **expected.headers,
            }.items()
        )
        Webhook(secret).verify(call["body"], call["headers"], json_parse=False)
        assert call["client_cert"] is True
        assert result.request["url"] == "https://example.com/…"
        assert "webhook-signature" in result.request["headers"]
    assert message.__dict__["json_body"] == encode_json(payload)
