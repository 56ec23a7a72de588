"""How HTTP answers and network failures become SendResults, against real local servers."""

from __future__ import annotations

import asyncio
import socket
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from regnotify.methods.slack import SlackMethod
from regnotify.methods.webhook import WebhookMethod

from .conftest import MakeSenders
from .receiver import Answer, Receiver
from .support import TestSenders, make_outgoing


async def send_webhook(url: str, senders: TestSenders):  # type: ignore[no-untyped-def]
    return await asyncio.wait_for(WebhookMethod().send({"url": url}, make_outgoing(), senders), timeout=10)


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_any_2xx_is_success(receiver: Receiver, senders: TestSenders, status: int) -> None:
    receiver.answers["/hook"] = Answer(status=status, body=b"" if status == 204 else b"accepted")
    result = await send_webhook(f"{receiver.base_url}/hook", senders)
    assert result.ok, result.error
    assert result.status_code == status
    assert result.error is None


@pytest.mark.parametrize(("status", "words"), [(500, "500 Internal Server Error"), (404, "404 Not Found")])
async def test_error_statuses_are_failures(
    receiver: Receiver, senders: TestSenders, status: int, words: str
) -> None:
    receiver.answers["/hook"] = Answer(status=status, body=b"nope")
    result = await send_webhook(f"{receiver.base_url}/hook", senders)
    assert not result.ok
    assert result.status_code == status
    assert result.error == f"receiver answered HTTP {words}"
    assert result.response_excerpt == "nope"
    assert not result.gone
    assert result.retry_after is None


async def test_a_redirect_is_a_failure_and_is_not_followed(receiver: Receiver, senders: TestSenders) -> None:
    receiver.answers["/hook"] = Answer(
        status=302, headers={"Location": f"{receiver.base_url}/target?t=secret"}
    )
    result = await send_webhook(f"{receiver.base_url}/hook", senders)
    assert not result.ok
    assert result.status_code == 302
    assert "redirects are not followed" in (result.error or "")
    assert "secret" not in (result.error or "")
    assert receiver.paths() == ["/hook"]  # the redirect target received nothing


async def test_410_gone_asks_to_disable(receiver: Receiver, senders: TestSenders) -> None:
    receiver.answers["/hook"] = Answer(status=410)
    result = await send_webhook(f"{receiver.base_url}/hook", senders)
    assert not result.ok
    assert result.gone
    assert result.status_code == 410


async def test_429_retry_after_seconds(receiver: Receiver, senders: TestSenders) -> None:
    receiver.answers["/hook"] = Answer(status=429, headers={"Retry-After": "7"})
    result = await send_webhook(f"{receiver.base_url}/hook", senders)
    assert not result.ok
    assert result.retry_after == 7
    assert result.error == "receiver answered HTTP 429 Too Many Requests"


async def test_503_retry_after_http_date(receiver: Receiver, senders: TestSenders) -> None:
    when = datetime.now(UTC) + timedelta(seconds=120)
    receiver.answers["/hook"] = Answer(
        status=503, headers={"Retry-After": format_datetime(when, usegmt=True)}
    )
    result = await send_webhook(f"{receiver.base_url}/hook", senders)
    assert not result.ok
    assert result.retry_after is not None
    assert 100 <= result.retry_after <= 121


async def test_only_the_first_4_kib_of_the_body_is_kept(receiver: Receiver, senders: TestSenders) -> None:
    receiver.answers["/hook"] = Answer(status=500, body=b"a" * 4095 + "é".encode() + b"b" * 500_000)
    result = await send_webhook(f"{receiver.base_url}/hook", senders)
    assert not result.ok
    assert result.response_excerpt == "a" * 4095  # the cut half of "é" is dropped, not garbled
    # the connection stays usable for the next request
    receiver.answers["/hook"] = Answer(status=200, body="ünïcode \xff".encode("latin-1"))
    again = await send_webhook(f"{receiver.base_url}/hook", senders)
    assert again.ok
    assert again.response_excerpt == "\ufffdn\ufffdcode \ufffd"


async def test_a_slow_receiver_times_out_within_the_total_timeout(
    receiver: Receiver, make_senders: MakeSenders
) -> None:
    senders = make_senders(http_total_timeout=0.5, http_connect_timeout=0.5)
    receiver.answers["/slow"] = Answer(delay=10)
    started = time.monotonic()
    result = await send_webhook(f"{receiver.base_url}/slow", senders)
    elapsed = time.monotonic() - started
    assert not result.ok
    assert "timed out" in (result.error or "")
    assert result.status_code is None
    assert elapsed < 3
    assert receiver.paths() == ["/slow"]


async def test_connection_refused_is_a_failure(senders: TestSenders) -> None:
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = await send_webhook(f"http://127.0.0.1:{port}/hook", senders)
    assert not result.ok
    assert result.error == f"connection refused by 127.0.0.1:{port}"
    assert result.request["url"] == f"http://127.0.0.1:{port}/…"


async def test_a_server_that_hangs_up_is_a_failure(senders: TestSenders) -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(100)
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await send_webhook(f"http://127.0.0.1:{port}/hook", senders)
    finally:
        server.close()
        await server.wait_closed()
    assert not result.ok
    assert f"127.0.0.1:{port}" in (result.error or "")
    assert "/hook" not in (result.error or "")


async def test_chat_methods_report_failures_the_same_way(receiver: Receiver, senders: TestSenders) -> None:
    receiver.answers["/services/x"] = Answer(status=404, body=b"no_team")
    result = await SlackMethod().send({"url": f"{receiver.base_url}/services/x"}, make_outgoing(), senders)
    assert not result.ok
    assert result.error == "receiver answered HTTP 404 Not Found"
    assert result.response_excerpt == "no_team"
