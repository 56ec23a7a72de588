"""What integration tests share: a real SMTP server (aiosmtpd) and a recording HTTP receiver, each on a
free loopback port."""

from __future__ import annotations

import contextlib
import email
import re
import socket
from collections.abc import AsyncIterator, Iterator
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller

from .delivery.receiver import Receiver


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[attr-defined, arg-type]
        return "250 OK"

    def link(self) -> str:
        body = self.messages[-1].get_body(preferencelist=("plain",))
        assert body is not None
        match = re.search(r"https://regnotify\.test(/authrepoemail\?code=\S+)", body.get_content())
        assert match, body.get_content()
        return match.group(1)


@contextlib.contextmanager
def smtp_server(handler: Inbox) -> Iterator[int]:
    """A real aiosmtpd server on a free port of 127.0.0.1 with ``handler``; yields its port."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with smtp_server(inbox) as port:
        yield inbox, port


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real aiohttp server on 127.0.0.1 that records every request and answers as told."""
    server = await Receiver().start()
    try:
        yield server
    finally:
        await server.stop()
