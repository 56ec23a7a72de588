"""A real HTTP(S) receiver on 127.0.0.1 for delivery tests: records every request, answers as told."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    """One request as the receiver saw it."""

    method: str
    path: str
    raw_path: str
    query: str
    headers: dict[str, str]
    body: bytes
    peercert: dict[str, Any] | None


@dataclass
class Answer:
    """How the receiver answers one path."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


class Receiver:
    """An aiohttp.web server on an ephemeral port. ``answers`` maps a path to an Answer (default 200)."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.requests: list[Received] = []
        self.answers: dict[str, Answer] = {}
        self.port = 0
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        scheme = "https" if self.ssl_context is not None else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def paths(self) -> list[str]:
        return [request.path for request in self.requests]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        peercert = request.transport.get_extra_info("peercert") if request.transport else None
        self.requests.append(
            Received(
                method=request.method,
                path=request.path,
                raw_path=request.raw_path,
                query=request.query_string,
                headers=dict(request.headers),
                body=body,
                peercert=peercert,
            )
        )
        answer = self.answers.get(request.path, Answer())
        if answer.delay:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), timeout=answer.delay)
        return web.Response(status=answer.status, body=answer.body, headers=answer.headers)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=self.ssl_context)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
