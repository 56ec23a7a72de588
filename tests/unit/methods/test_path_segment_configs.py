"""HipChat's room_id and Flowdock's flow_api_token go into a URL path: exactly one segment, always.

``..`` (or ``.``) in either would climb out of the configured base URL: the HTTP client resolves
dot segments, percent-encoded ones too. Validation refuses them (and the characters that only make
sense as URL syntax); sending refuses a stored value that is no single segment, without sending.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from regnotify.config import Settings
from regnotify.methods import METHODS, MethodConfigError
from regnotify.methods.flowdock import FlowdockMethod, flowdock_url
from regnotify.methods.hipchat import HipChatMethod, hipchat_url
from regnotify.methods.sending import Message, Outgoing

from .method_fakes import FakeContext

HIPCHAT = METHODS["hipchat"]
FLOWDOCK = METHODS["flowdock"]
HIPCHAT_BASE = "https://hipchat.example/base"
FLOWDOCK_BASE = "https://flowdock.example/base/"
DOT_SEGMENTS = [".", "..", "%2e%2e", "%2E.", ".%2e"]
URL_SYNTAX = ["a/b", "../x", "a\\b", "..\\x", "a?b", "a#b", "a%2Fb", "100%"]


@pytest.mark.parametrize("room", DOT_SEGMENTS + URL_SYNTAX + [" .. ", "\u2024\u2024/x"])
async def test_hipchat_refuses_rooms_that_are_not_one_path_segment(room: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError) as caught:
        await HIPCHAT.validate({"notification_token": "tok", "room_id": room}, ctx)
    message = str(caught.value)
    assert message.startswith("room_id ")
    assert "room number or name" in message  # says what is allowed
    for shown in ("/", "\\", "?", "#", "%", '"." or ".."'):
        assert shown in message, message


@pytest.mark.parametrize("room", ["Ops Room", "ops-room_2", "...", "a.b", "42", "Équipe ☕", "r" * 100])
async def test_hipchat_keeps_ordinary_room_names(room: str, ctx: FakeContext) -> None:
    config = {"notification_token": "tok", "room_id": room}
    assert (await HIPCHAT.validate(config, ctx))["room_id"] == room


@pytest.mark.parametrize("token", DOT_SEGMENTS + URL_SYNTAX)
async def test_flowdock_refuses_tokens_that_are_not_one_path_segment(token: str, ctx: FakeContext) -> None:
    with pytest.raises(MethodConfigError) as caught:
        await FLOWDOCK.validate({"flow_api_token": token}, ctx)
    message = str(caught.value)
    assert message.startswith("flow_api_token ")
    assert token not in message or token in "..."  # the secret is not echoed back
    for shown in ("/", "\\", "?", "#", "%", '"." or ".."'):
        assert shown in message, message


@pytest.mark.parametrize("token", ["0123456789abcdef0123456789abcdef", "a.b", "...", "tok-EN_1~"])
async def test_flowdock_keeps_ordinary_tokens(token: str, ctx: FakeContext) -> None:
    assert await FLOWDOCK.validate({"flow_api_token": token}, ctx) == {"flow_api_token": token}


# -- at send: configs stored before validation refused these ---------------------------------


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body_excerpt: str = "ok"
    duration_ms: float = 1.0


class RecordingHttp:
    def __init__(self) -> None:
        self.urls: list[str] = []

    async def post(self, url: str, *, body: bytes, headers: dict[str, str], client_cert: bool = False) -> Any:
        self.urls.append(url)
        return Answer()


@dataclass
class Senders:
    settings: Settings
    http: RecordingHttp
    mail: Any = None
    inbox: Any = None


@pytest.fixture
def senders(tmp_path: Path) -> Senders:
    settings = Settings(
        data_dir=tmp_path / "data", hipchat_base_url=HIPCHAT_BASE, flowdock_base_url=FLOWDOCK_BASE
    )
    return Senders(settings, RecordingHttp())


def push() -> Outgoing:
    payload = {"repository": "acme/app", "namespace": "acme", "name": "app", "updated_tags": ["latest"]}
    return Outgoing(
        "msg_1", 1, "repo_push", payload, Message("repo_push", payload), "acme/app", "acme", "u", None
    )


@pytest.mark.parametrize("room", [".", "..", ""])
async def test_hipchat_send_refuses_a_stored_dot_segment_room(room: str, senders: Senders) -> None:
    config = {"notification_token": "tok", "room_id": room}
    result = await HipChatMethod().send(config, push(), senders)
    assert not result.ok
    assert result.permanent
    assert senders.http.urls == []  # nothing was sent
    assert "room_id" in (result.error or "")
    assert "single" in (result.error or "") or "needs" in (result.error or "")


@pytest.mark.parametrize("token", [".", ".."])
async def test_flowdock_send_refuses_a_stored_dot_segment_token(token: str, senders: Senders) -> None:
    result = await FlowdockMethod().send({"flow_api_token": token}, push(), senders)
    assert not result.ok
    assert result.permanent
    assert senders.http.urls == []
    assert "flow_api_token" in (result.error or "")
    assert "single" in (result.error or "")


@pytest.mark.parametrize("room", ["a/b?c", "../x", "%2e%2e", "..\\x", "a#b", "Ops Room", "42"])
async def test_hipchat_stored_rooms_are_sent_as_one_segment_under_the_base(
    room: str, senders: Senders
) -> None:
    result = await HipChatMethod().send({"notification_token": "tok", "room_id": room}, push(), senders)
    assert result.ok, result.error
    [sent] = senders.http.urls
    url = URL(sent)  # what aiohttp requests (yarl resolves dot segments)
    assert url.host == "hipchat.example"
    assert url.raw_parts[:4] == ("/", "base", "v2", "room")
    assert len(url.raw_parts) == 6 and url.raw_parts[5] == "notification"
    assert url.parts[4] == room
    assert url.query_string == "" and url.fragment == ""


@pytest.mark.parametrize("token", ["a/b?c", "../x", "%2e%2e", "..\\x", "a#b", "tok"])
async def test_flowdock_stored_tokens_are_sent_as_one_segment_under_the_base(
    token: str, senders: Senders
) -> None:
    result = await FlowdockMethod().send({"flow_api_token": token}, push(), senders)
    assert result.ok, result.error
    [sent] = senders.http.urls
    url = URL(sent)
    assert url.raw_parts[:5] == ("/", "base", "v1", "messages", "team_inbox")
    assert len(url.raw_parts) == 6
    assert url.parts[5] == token
    assert url.query_string == "" and url.fragment == ""


@pytest.mark.parametrize("value", [".", ".."])
def test_url_builders_refuse_dot_segments(value: str) -> None:
    with pytest.raises(ValueError, match="single"):
        hipchat_url(HIPCHAT_BASE, value)
    with pytest.raises(ValueError, match="single"):
        flowdock_url(FLOWDOCK_BASE, value)
