"""The webhook's ``format`` key: quay (the default), cloudevents or cloudevents-binary; shown as stored."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.methods import METHODS, MethodConfigError
from regnotify.runtime.crypto import SecretBox

from .method_fakes import FakeContext

METHOD = METHODS["webhook"]
URL = "https://example.com/hooks/ci?token=abcdef123456"


async def test_no_format_stores_no_format_key(ctx: FakeContext) -> None:
    assert await METHOD.validate({"url": URL}, ctx) == {"url": URL}


@pytest.mark.parametrize("blank", [None, ""])
async def test_a_blank_format_is_the_default(blank: object, ctx: FakeContext) -> None:
    assert await METHOD.validate({"url": URL, "format": blank}, ctx) == {"url": URL}


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("quay", "quay"),
        ("cloudevents", "cloudevents"),
        ("cloudevents-binary", "cloudevents-binary"),
        (" CloudEvents ", "cloudevents"),
        ("CLOUDEVENTS-BINARY", "cloudevents-binary"),
    ],
)
async def test_each_format_is_stored_in_lower_case(given: str, stored: str, ctx: FakeContext) -> None:
    assert await METHOD.validate({"url": URL, "format": given}, ctx) == {"url": URL, "format": stored}


@pytest.mark.parametrize("bad", ["cloudevent", "json", "cloudevents-structured", "binary", "quayx"])
async def test_an_unknown_format_names_the_valid_ones(bad: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError) as raised:
        await METHOD.validate({"url": URL, "format": bad}, ctx)
    message = str(raised.value)
    assert message.startswith(f"unknown webhook format {bad!r}")
    assert "use one of: quay, cloudevents, cloudevents-binary" in message


@pytest.mark.parametrize(
    ("bad", "type_name"), [(1, "number"), (True, "boolean"), (["cloudevents"], "array"), ({}, "object")]
)
async def test_a_format_that_is_no_string_is_refused(bad: object, type_name: str, ctx: FakeContext) -> None:
    with pytest.raises(
        MethodConfigError, match=f"webhook format must be a string, not {type_name}; use one of"
    ):
        await METHOD.validate({"url": URL, "format": bad}, ctx)


async def test_a_bad_format_is_refused_before_any_lookup(ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="webhook format"):
        await METHOD.validate({"url": URL, "format": "xml"}, ctx)
    assert ctx.lookups == []


async def test_format_goes_with_a_template_and_a_secret(ctx: FakeContext) -> None:
    config: dict[str, Any] = {"url": URL, "template": '{"r": "${repository}"}', "secret": True}
    stored = await METHOD.validate({**config, "format": "cloudevents"}, ctx)
    assert stored["format"] == "cloudevents"
    assert stored["template"] == config["template"]
    assert stored["secret"].startswith("whsec_")


async def test_format_is_shown_as_it_is_and_never_sealed(ctx: FakeContext, box: SecretBox) -> None:
    stored = await METHOD.validate({"url": URL, "format": "cloudevents-binary", "secret": True}, ctx)
    sealed = METHOD.seal(stored, box)
    assert sealed["format"] == "cloudevents-binary"
    assert sealed["url"] != URL and sealed["secret"] != stored["secret"]
    for shown in (METHOD.mask(stored), METHOD.mask(sealed), METHOD.mask(METHOD.unseal(sealed, box))):
        assert shown["format"] == "cloudevents-binary"
        assert "abcdef123456" not in str(shown)
    assert METHOD.unseal(sealed, box) == stored
