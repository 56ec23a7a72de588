"""Shared HTTP result logic: status to SendResult, Retry-After, request summaries, client exceptions."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from multidict import CIMultiDict

from regnotify.events import RepositoryRef, get_event_kind
from regnotify.methods.http_send import (
    encode_json,
    is_secret_header,
    masked_url,
    parse_retry_after,
    post_json,
    request_summary,
    result_from_response,
)
from regnotify.methods.sending import Message, Outgoing
from regnotify.methods.urls import mask_url
from regnotify.outbound.http import OutboundError


@dataclass
class Response:
    status: int
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body_excerpt: str = ""
    duration_ms: float = 12.5


class FakeHttp:
    def __init__(self, outcome: Any) -> None:
        self.outcome = outcome
        self.calls: list[dict[str, Any]] = []

    async def post(self, url: str, *, body: bytes, headers: dict[str, str], client_cert: bool = False) -> Any:
        self.calls.append({"url": url, "body": body, "headers": headers, "client_cert": client_cert})
        if isinstance(self.outcome, BaseException):
            raise self.outcome
        return self.outcome


@dataclass
class FakeSenders:
    http: FakeHttp
    settings: Any = None
    mail: Any = None
    inbox: Any = None


def respond(status: int, **headers: str) -> Response:
    return Response(status=status, headers=CIMultiDict(headers), body_excerpt="body")


@pytest.mark.parametrize("status", [200, 204, 299])
def test_2xx_is_ok(status: int) -> None:
    result = result_from_response(respond(status), {})
    assert result.ok and result.error is None and result.status_code == status
    assert result.duration_ms == 12.5 and result.response_excerpt == "body"


@pytest.mark.parametrize("status", [100, 199, 300, 301, 304, 400, 401, 418, 500, 599])
def test_everything_else_fails(status: int) -> None:
    result = result_from_response(respond(status), {})
    assert not result.ok
    assert f"HTTP {status}" in (result.error or "")


def test_a_redirect_says_it_is_not_followed_and_masks_its_target() -> None:
    result = result_from_response(respond(307, Location="https://evil.test/steal?token=abc"), {})
    assert result.error == (
        "receiver answered HTTP 307 Temporary Redirect (redirect to https://evil.test/…); "
        "redirects are not followed"
    )


def test_410_is_gone() -> None:
    assert result_from_response(respond(410), {}).gone
    assert not result_from_response(respond(404), {}).gone


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_on_429_and_503(status: int) -> None:
    assert result_from_response(respond(status, **{"Retry-After": "7"}), {}).retry_after == 7
    assert result_from_response(respond(status), {}).retry_after is None


def test_retry_after_is_ignored_on_other_statuses() -> None:
    assert result_from_response(respond(500, **{"Retry-After": "7"}), {}).retry_after is None


def test_parse_retry_after() -> None:
    now = datetime(2015, 10, 21, 7, 28, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120
    assert parse_retry_after(" 0 ", now) == 0
    assert parse_retry_after("1.5", now) == 1.5
    assert parse_retry_after("-5", now) == 0
    assert parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now) == 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0  # in the past: now
    for junk in ("", "soon", "inf", "nan", None, 7):
        assert parse_retry_after(junk, now) is None


def test_request_summary_masks_the_url_and_drops_secret_headers() -> None:
    headers = {
        "Content-Type": "application/json",
        "Authorization": "Bearer abc",
        "X-Api-Key": "k",
        "X-Auth-Token": "t",
        "webhook-id": "msg_1",
    }
    summary = request_summary("https://user:pw@hooks.test:8443/path/secret?q=1", headers, b'{"a":1}')
    assert summary == {
        "method": "POST",
        "url": "https://hooks.test:8443/…",
        "headers": {"Content-Type": "application/json", "webhook-id": "msg_1"},
        "body": '{"a":1}',
        "body_bytes": 7,
    }


def test_request_summary_keeps_only_the_start_of_a_big_body() -> None:
    summary = request_summary("https://hooks.test/", {}, b"x" * 10_000)
    assert len(summary["body"]) == 4096
    assert summary["body_bytes"] == 10_000


def test_encode_json_is_compact_utf8() -> None:
    assert encode_json({"a": "é", "b": [1, 2]}) == '{"a":"é","b":[1,2]}'.encode()


@pytest.mark.parametrize(
    "document",
    [
        {"a": "é", "b": [1, 2.5, None, True], "c": {"d": "😀\n\u2028<>&\"'"}},
        "just text",
        [],
        {1: "int key", "nan": math.nan, "inf": -math.inf},
        get_event_kind("repo_push").sample_payload(
            RepositoryRef("acme", "app", "registry.test", "https://x.test")
        ),
    ],
)
def test_encode_json_is_json_dumps_compact_without_ascii_escapes(document: Any) -> None:
    expected = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    assert encode_json(document) == expected


def test_encode_json_fails_as_json_dumps_does() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    with pytest.raises(ValueError, match="Circular reference"):
        encode_json(circular)
    with pytest.raises(TypeError, match="not JSON serializable"):
        encode_json({"when": datetime(2024, 1, 1)})
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8
        encode_json({"a": "\ud800"})


def test_message_json_body_is_the_encoded_payload_made_once() -> None:
    payload = get_event_kind("repo_push").sample_payload(
        RepositoryRef("acme", "app", "registry.test", "https://x.test")
    )
    message = Message("repo_push", payload)
    first = Outgoing("msg_1", 1, "repo_push", payload, message, "acme/app", "acme", "u1", None)
    second = Outgoing("msg_2", 1, "repo_push", dict(payload), message, "acme/app", "acme", "u2", None)
    assert first.json_body == encode_json(payload)
    assert second.json_body is first.json_body is message.json_body  # one encoding per event


def test_an_outgoing_whose_payload_is_not_its_message_s_sends_its_own() -> None:
    payload = {"repository": "acme/app", "updated_tags": ["v1"]}
    message = Message("repo_push", payload)
    other = {"repository": "acme/app", "updated_tags": ["v2"]}
    outgoing = Outgoing("msg_1", 1, "repo_push", other, message, "acme/app", "acme", "u1", None)
    assert outgoing.json_body == encode_json(other)
    assert message.json_body == encode_json(payload)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:pw@hooks.test:8443/path/secret?q=1",
        "https://hooks.test",
        "https://hooks.test/",
        "http://[2001:db8::1]:8080/x",
        "  HTTPS://Hooks.Test/x  ",
        "ftp://hooks.test/x",
        "https://hooks.test:99999/",
        "not a url",
        "",
    ],
)
def test_masked_url_is_mask_url_remembered(url: str) -> None:
    assert masked_url(url) == mask_url(url)
    hits = masked_url.cache_info().hits
    assert masked_url(url) == mask_url(url)
    assert masked_url.cache_info().hits == hits + 1


def test_secret_headers_are_judged_by_name_whatever_the_case() -> None:
    for name in (
        "Authorization",
        "cookie",
        "X-Auth-Token",
        "X-Api-Key",
        "apikey",
        "Client-Secret",
        "PASSWORD",
    ):
        assert is_secret_header(name) and is_secret_header(name)
    for name in ("Content-Type", "webhook-id", "webhook-signature", "ce-type", "X-Regnotify-Event"):
        assert not is_secret_header(name) and not is_secret_header(name)
    assert is_secret_header.cache_info().maxsize == masked_url.cache_info().maxsize == 1024


async def test_post_json_sends_json_and_reports_the_answer() -> None:
    http = FakeHttp(respond(201))
    result = await post_json(FakeSenders(http), "https://hooks.test/x", {"k": "v"}, headers={"X-A": "1"})
    assert result.ok and result.status_code == 201
    [call] = http.calls
    assert call["body"] == b'{"k":"v"}'
    assert call["headers"] == {"Content-Type": "application/json", "X-A": "1"}
    assert call["client_cert"] is False
    assert result.request["url"] == "https://hooks.test/…"


@pytest.mark.parametrize(
    ("exc", "error", "permanent"),
    [
        (OutboundError("refused: 10.0.0.1 is a private address", permanent=True), "refused: 10.0.0.1", True),
        (OutboundError("connection refused by h:1"), "connection refused by h:1", False),
        (TimeoutError(), "timed out", False),
        (
            ConnectionResetError(104, "Connection reset by peer"),
            "connection failed: Connection reset by peer",
            False,
        ),
        (RuntimeError("https://hooks.test/secret-path"), "request failed: RuntimeError", False),
    ],
)
async def test_post_json_never_raises_for_client_errors(
    exc: BaseException, error: str, permanent: bool
) -> None:
    result = await post_json(FakeSenders(FakeHttp(exc)), "https://hooks.test/secret-path", {})
    assert not result.ok
    assert (result.error or "").startswith(error)
    assert "secret-path" not in (result.error or "")
    assert result.permanent is permanent
    assert result.request["method"] == "POST"
