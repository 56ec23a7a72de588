"""Fixtures for delivery tests: a recording receiver on 127.0.0.1 and a client factory that cleans up."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from regnotify.outbound.http import GuardedHttpClient

from .support import TestSenders, make_settings

MakeSenders = Callable[..., TestSenders]


@pytest.fixture
async def make_senders(tmp_path: Path) -> AsyncIterator[MakeSenders]:
    """``make_senders(resolver=..., **settings)``: Senders with a GuardedHttpClient, closed after the test."""
    clients: list[GuardedHttpClient] = []

    def make(resolver: Callable[[str], Awaitable[list[str]]] | None = None, **changes: Any) -> TestSenders:
        settings = make_settings(tmp_path, **changes)
        client = GuardedHttpClient(settings, resolver=resolver)
        clients.append(client)
        return TestSenders(settings=settings, http=client)

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
def senders(make_senders: MakeSenders) -> TestSenders:
    return make_senders()
