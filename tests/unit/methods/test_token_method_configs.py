"""HipChat and Flowdock: token and room rules."""

from __future__ import annotations

from typing import Any

import pytest

from regnotify.methods import METHODS, MethodConfigError

from .method_fakes import FakeContext

HIPCHAT = METHODS["hipchat"]
FLOWDOCK = METHODS["flowdock"]


@pytest.mark.parametrize(
    ("room", "stored"),
    [(42, "42"), (0, "0"), ("42", "42"), (" 42 ", "42"), ("Ops Room", "Ops Room"), ("r" * 100, "r" * 100)],
)
async def test_hipchat_rooms(room: Any, stored: str, ctx: FakeContext) -> None:
    config = {"notification_token": " tok123 ", "room_id": room}
    assert await HIPCHAT.validate(config, ctx) == {"notification_token": "tok123", "room_id": stored}


@pytest.mark.parametrize(
    ("room", "message"),
    [
        (None, "Missing room_id"),
        ("", "Missing room_id"),
        ("  ", "Missing room_id"),
        (-1, "negative"),
        (True, "number or a string"),
        (1.5, "number or a string"),
        ([1], "number or a string"),
        ("r" * 101, "too long"),
        ("r" * 1000, "too long"),
        ("room\nname", "control"),
        ("room\x00", "control"),
    ],
)
async def test_hipchat_bad_rooms(room: Any, message: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=message):
        await HIPCHAT.validate({"notification_token": "tok", "room_id": room}, ctx)


async def test_hipchat_needs_a_token(ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match="Missing notification_token"):
        await HIPCHAT.validate({"room_id": 1}, ctx)


async def test_flowdock_token(ctx: FakeContext) -> None:
    assert await FLOWDOCK.validate({"flow_api_token": "abc123"}, ctx) == {"flow_api_token": "abc123"}


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (None, "Missing flow_api_token"),
        ("", "Missing flow_api_token"),
        ("   ", "Missing flow_api_token"),
        (123, "must be a string"),
        (["abc"], "must be a string"),
        ("a" * 513, "too long"),
        ("a" * 100_000, "too long"),
        ("abc def", "spaces"),
        ("abc\tdef", "spaces"),
        ("abc\x00def", "control"),
        ("abc\u200bdef", "control"),
    ],
)
async def test_flowdock_bad_tokens(token: Any, message: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError, match=message):
        await FLOWDOCK.validate({"flow_api_token": token}, ctx)


async def test_token_at_the_length_limit(ctx: FakeContext) -> None:
    token = "a" * 512
    assert await FLOWDOCK.validate({"flow_api_token": token}, ctx) == {"flow_api_token": token}


@pytest.mark.parametrize(
    ("token", "shown"),
    [("abcdefghijkl", "********ijkl"), ("abcdefghijk", "********"), ("x", "********")],
)
def test_token_masks(token: str, shown: str) -> None:
    assert FLOWDOCK.mask({"flow_api_token": token}) == {"flow_api_token": shown}
    assert HIPCHAT.mask({"notification_token": token, "room_id": "7"}) == {
        "notification_token": shown,
        "room_id": "7",
    }
