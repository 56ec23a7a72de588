"""Network parts that take their time, for tests that check nothing waits on them inside a write: an
SMTP server that accepts connections and never greets, and a resolver that answers when told."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import TypeVar

# How long the slow resolver waits on its own when the test does not let it answer: only a test
# whose code regressed gets there (the write it races then finishes last, and the test fails).
RESOLVER_FALLBACK_SECONDS = 5.0

T = TypeVar("T")


@dataclass
class SilentSmtp:
    """Accepts TCP connections and never writes the SMTP greeting, until ``hang_up``."""

    connected: asyncio.Event = field(default_factory=asyncio.Event)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connected.set()
        await self.released.wait()
        writer.close()

    def hang_up(self) -> None:
        """Close every connection without a word: the client's mail fails at once."""
        self.released.set()


@asynccontextmanager
async def silent_smtp_server() -> AsyncIterator[SilentSmtp]:
    silent = SilentSmtp()
    server = await asyncio.start_server(silent.handle, "127.0.0.1", 0)
    silent.port = int(server.sockets[0].getsockname()[1])
    try:
        yield silent
    finally:
        silent.hang_up()
        server.close()
        await server.wait_closed()


class SlowResolver:
    """Answers like ``answers``, but only once the test lets it (``answer``).

    ``asked`` is set once ``callers`` look-ups are waiting."""

    def __init__(self, answers: Callable[[str], Awaitable[list[str]]], callers: int = 1) -> None:
        self.answers = answers
        self.callers = callers
        self.calls = 0
        self.asked = asyncio.Event()
        self.gate = asyncio.Event()

    async def __call__(self, host: str) -> list[str]:
        self.calls += 1
        if self.calls >= self.callers:
            self.asked.set()
        with suppress(TimeoutError):
            await asyncio.wait_for(self.gate.wait(), RESOLVER_FALLBACK_SECONDS)
        return await self.answers(host)

    def answer(self) -> None:
        self.gate.set()


async def first_done(*tasks: asyncio.Task[T]) -> set[asyncio.Task[T]]:
    """The tasks done when the first of ``tasks`` is."""
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    return done
