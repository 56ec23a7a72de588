"""The catalogue as a whole: names, lookup, config shape errors, and the secret contract of every method."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cryptography.fernet import Fernet

from regnotify.methods import (
    METHODS,
    MethodConfigError,
    NotificationMethod,
    UnknownMethodError,
    get_method,
)
from regnotify.runtime.crypto import SecretBox, is_sealed

from .method_fakes import FakeContext

ORDER = ["quay_notification", "email", "webhook", "slack", "hipchat", "flowdock", "msteams", "discord"]

# One valid config per method, with secrets long enough to be recognisable in any output.
VALID: dict[str, dict[str, Any]] = {
    "quay_notification": {"target": {"kind": "user", "name": "alice"}},
    "email": {"email": "ops@example.com"},
    "webhook": {
        "url": "https://user:hunter2pass@example.com/hooks/SECRETPATHTOKEN?sig=QUERYTOKEN",
        "secret": "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo0NTY3ODk=",
    },
    "slack": {"url": "https://hooks.slack.com/services/T000/B000/SLACKSECRETTOKEN"},
    "hipchat": {"notification_token": "HIPCHATSECRETTOKEN123", "room_id": 42},
    "flowdock": {"flow_api_token": "FLOWDOCKSECRETTOKEN456"},
    "msteams": {"url": "https://acme.webhook.office.com/webhookb2/TEAMSSECRETTOKEN"},
    "discord": {"url": "https://discord.com/api/webhooks/123/DISCORDSECRETTOKEN"},
}

SECRET_SUBSTRINGS: dict[str, list[str]] = {
    "webhook": ["hunter2pass", "SECRETPATHTOKEN", "QUERYTOKEN", "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"],
    "slack": ["SLACKSECRETTOKEN", "T000/B000"],
    "hipchat": ["HIPCHATSECRETTOK"],
    "flowdock": ["FLOWDOCKSECRETTOK"],
    "msteams": ["TEAMSSECRETTOKEN"],
    "discord": ["DISCORDSECRETTOKEN"],
}

WEIRD_VALUES: list[Any] = [
    None,
    5,
    -1,
    2.5,
    True,
    False,
    "",
    " ",
    "x",
    "x" * 100_000,
    "\x00\n\t",
    "${",
    "http://",
    "http://[::1",
    "https://:0",
    "https://a:99999/",
    "é" * 300,
    "\ud800",
    [],
    ["x"],
    {},
    {"kind": "user"},
    {"kind": 1, "name": []},
    {"nested": {"deep": [1, 2, 3]}},
    {"kind": "team", "name": "x" * 10_000},
]


def test_catalogue_order_and_names() -> None:
    assert list(METHODS) == ORDER
    for name, method in METHODS.items():
        assert isinstance(method, NotificationMethod)
        assert method.name == name
        assert method.title
        assert get_method(name) is method


def test_titles_follow_quay() -> None:
    assert METHODS["webhook"].title == "Webhook POST"
    assert METHODS["email"].title == "E-mail"
    assert METHODS["quay_notification"].title == "Quay Notification"
    assert METHODS["slack"].title == "Slack Notification"
    assert METHODS["msteams"].title == "Microsoft Teams Notification"


def test_secret_fields() -> None:
    assert {name: m.secret_fields for name, m in METHODS.items()} == {
        "quay_notification": (),
        "email": (),
        "webhook": ("url", "secret"),
        "slack": ("url",),
        "hipchat": ("notification_token",),
        "flowdock": ("flow_api_token",),
        "msteams": ("url",),
        "discord": ("url",),
    }


@pytest.mark.parametrize("name", ["nope", "", "Webhook", None, 5, "x" * 500])
def test_unknown_method_lists_valid_names(name: Any) -> None:
    with pytest.raises(UnknownMethodError) as info:
        get_method(name)
    assert isinstance(info.value, MethodConfigError)
    assert isinstance(info.value, ValueError)
    for valid in ORDER:
        assert valid in str(info.value)
    assert len(str(info.value)) < 300


@pytest.mark.parametrize("name", ORDER)
async def test_valid_sample_configs_pass(name: str, ctx: FakeContext) -> None:
    stored = await METHODS[name].validate(VALID[name], ctx)
    assert isinstance(stored, dict)
    assert set(stored) <= set(VALID[name])


@pytest.mark.parametrize("name", ORDER)
@pytest.mark.parametrize("config", [[], "x", 5, ["url"], (), 1.5, True])
async def test_non_object_config_is_refused(name: str, config: Any, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="must be a JSON object"):
        await METHODS[name].validate(config, ctx)


@pytest.mark.parametrize("name", ORDER)
async def test_none_config_means_missing_fields(name: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="Missing"):
        await METHODS[name].validate(None, ctx)


@pytest.mark.parametrize("name", ORDER)
async def test_unknown_keys_are_refused_with_the_allowed_list(name: str, ctx: FakeContext) -> None:
    method = METHODS[name]
    config = {**VALID[name], "colour": "blue"}
    with pytest.raises(MethodConfigError) as info:
        await method.validate(config, ctx)
    message = str(info.value)
    assert "colour" in message
    for key in method.allowed_keys:
        assert key in message


@pytest.mark.parametrize("name", ORDER)
async def test_weird_values_raise_only_method_config_errors(name: str, ctx: FakeContext) -> None:
    method = METHODS[name]
    for key in method.allowed_keys:
        for value in WEIRD_VALUES:
            config = {**VALID[name], key: value}
            try:
                stored = await method.validate(config, ctx)
            except MethodConfigError as exc:
                assert str(exc)
                assert len(str(exc)) < 1000, (key, value)
            else:
                json.dumps(stored)  # whatever is accepted can be stored as JSON


@pytest.mark.parametrize("name", ORDER)
async def test_non_string_keys_are_refused(name: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="unknown config key"):
        await METHODS[name].validate({**VALID[name], 7: "x"}, ctx)


@pytest.mark.parametrize("name", ORDER)
async def test_seal_unseal_round_trip(name: str, ctx: FakeContext, box: SecretBox) -> None:
    method = METHODS[name]
    stored = await method.validate(VALID[name], ctx)
    sealed = method.seal(stored, box)
    for key in method.secret_fields:
        if key in stored:
            assert is_sealed(sealed[key])
            assert sealed[key] != stored[key]
    for key in set(stored) - set(method.secret_fields):
        assert sealed[key] == stored[key]
    assert method.seal(sealed, box) == sealed  # idempotent: already sealed values stay
    assert method.unseal(sealed, box) == stored
    assert method.unseal(stored, box) == stored  # plaintext passes through
    assert stored == await method.validate(VALID[name], ctx) or name == "webhook"


@pytest.mark.parametrize("name", [n for n in ORDER if METHODS[n].secret_fields])
async def test_unseal_with_another_key_fails(name: str, ctx: FakeContext, box: SecretBox) -> None:
    method = METHODS[name]
    sealed = method.seal(await method.validate(VALID[name], ctx), box)
    with pytest.raises(ValueError):
        method.unseal(sealed, SecretBox(Fernet.generate_key()))


@pytest.mark.parametrize("name", ORDER)
async def test_seal_does_not_change_its_input(name: str, ctx: FakeContext, box: SecretBox) -> None:
    method = METHODS[name]
    stored = await method.validate(VALID[name], ctx)
    before = json.dumps(stored, sort_keys=True)
    method.seal(stored, box)
    method.mask(stored)
    assert json.dumps(stored, sort_keys=True) == before


@pytest.mark.parametrize("name", list(SECRET_SUBSTRINGS))
async def test_mask_never_shows_secrets(name: str, ctx: FakeContext, box: SecretBox) -> None:
    method = METHODS[name]
    stored = await method.validate(VALID[name], ctx)
    sealed = method.seal(stored, box)
    for config in (stored, sealed):
        shown = json.dumps(method.mask(config))
        for secret in SECRET_SUBSTRINGS[name]:
            assert secret not in shown
        assert "enc:v1:" not in shown
        for key in method.secret_fields:
            if key in sealed:
                assert sealed[key][8:40] not in shown  # no ciphertext either
    assert set(method.mask(stored)) == set(stored)


def test_mask_formats() -> None:
    webhook, slack, hipchat = METHODS["webhook"], METHODS["slack"], METHODS["hipchat"]
    assert webhook.mask(VALID["webhook"]) == {
        "url": "https://example.com/…",
        "secret": "whsec_********",
    }
    assert webhook.mask({"url": "http://example.com:8080"}) == {"url": "http://example.com:8080"}
    assert webhook.mask({"url": "http://example.com/"}) == {"url": "http://example.com/"}
    assert webhook.mask({"url": "http://[2001:db8::1]:81/x"}) == {"url": "http://[2001:db8::1]:81/…"}
    assert webhook.mask({"url": "https://example.com?token=abc"}) == {"url": "https://example.com/…"}
    assert webhook.mask({"url": "not a url"}) == {"url": "********"}
    assert webhook.mask({"url": 5}) == {"url": "********"}
    assert slack.mask(VALID["slack"]) == {"url": "https://hooks.slack.com/…"}
    assert hipchat.mask(VALID["hipchat"]) == {"notification_token": "********N123", "room_id": 42}
    assert hipchat.mask({"notification_token": "short-token"}) == {"notification_token": "********"}
    assert METHODS["email"].mask(VALID["email"]) == VALID["email"]


def test_mask_of_sealed_values(box: SecretBox) -> None:
    webhook = METHODS["webhook"]
    sealed = webhook.seal(VALID["webhook"], box)
    assert webhook.mask(sealed) == {"url": "********", "secret": "whsec_********"}
    flowdock = METHODS["flowdock"]
    assert flowdock.mask(flowdock.seal(VALID["flowdock"], box)) == {"flow_api_token": "********"}


def test_mask_and_seal_skip_absent_and_null_secrets(box: SecretBox) -> None:
    webhook = METHODS["webhook"]
    config = {"url": "https://example.com/x", "secret": None}
    assert webhook.mask(config) == {"url": "https://example.com/…", "secret": None}
    assert webhook.seal({"url": "https://example.com/x"}, box).keys() == {"url"}
