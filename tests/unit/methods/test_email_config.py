"""The e-mail method: address syntax, normalisation, and the optional authorization hook."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.methods import METHODS, MethodConfigError

from .method_fakes import FakeContext

METHOD = METHODS["email"]


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("ops@example.com", "ops@example.com"),
        ("  Ops.Team@Example.COM ", "Ops.Team@example.com"),
        ("first+tag@sub.example.org", "first+tag@sub.example.org"),
        ("user@bücher.example.org", "user@bücher.example.org"),
        ("user@xn--bcher-kva.example.org", "user@bücher.example.org"),
    ],
)
async def test_addresses_are_accepted_and_normalised(given: str, stored: str, ctx: FakeContext) -> None:
    assert await METHOD.validate({"email": given}, ctx) == {"email": stored}


@pytest.mark.parametrize(
    "given",
    [
        "not-an-address",
        "@example.com",
        "ops@",
        "ops@@example.com",
        "ops@example",
        "ops @example.com",
        "ops@exa_mple.com",
        "a" * 65 + "@example.com",
        "ops@" + "a" * 250 + ".com",
        "ops@example.com\nBcc: victim@example.org",
        "x" * 5000,
    ],
)
async def test_invalid_addresses(given: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError):
        await METHOD.validate({"email": given}, ctx)


@pytest.mark.parametrize("value", [None, "", "   "])
async def test_missing_address(value: Any, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="Missing email"):
        await METHOD.validate({"email": value}, ctx)


@pytest.mark.parametrize("value", [5, ["ops@example.com"], {"email": "ops@example.com"}, True])
async def test_wrong_types(value: Any, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="email must be a string"):
        await METHOD.validate({"email": value}, ctx)


class AuthorizingContext(FakeContext):
    """A context with the optional email_is_authorized extension."""

    confirmed: frozenset[str] = frozenset({"ops@example.com"})

    async def email_is_authorized(self, email: str) -> bool | None:
        return True if email in self.confirmed else None


async def test_authorization_hook_is_honoured(ctx: FakeContext) -> None:
    authorizing = AuthorizingContext(settings=ctx.settings)
    assert await METHOD.validate({"email": "ops@EXAMPLE.com"}, authorizing) == {"email": "ops@example.com"}
    with pytest.raises(
        MethodConfigError, match="not authorized to receive notifications for repository acme/app"
    ):
        await METHOD.validate({"email": "other@example.com"}, authorizing)
