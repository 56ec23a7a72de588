"""JSON bodies that routes read by hand (the registry receiver, report imports): a clear 400 per fault.

And NUL characters (``\\u0000``, ``%00``), which PostgreSQL cannot store in text while SQLite can:
``RefuseNul`` answers API input holding one with a 400 naming where it is, the same on both
engines, before a route sees it: the path, every query parameter, and the bodies FastAPI parses
into a route's model. Routes that read their body by hand judge it themselves (the registry
receiver rejects the one event, report imports drop the character).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from regnotify.api.errors import (
    MAX_BODY_DEPTH,
    NOT_UTF8,
    NUL_NOT_ALLOWED,
    TOO_DEEP,
    ApiError,
    error_response,
    is_json,
)


def depth(value: Any) -> int:
    """How many levels of arrays and objects ``value`` nests (0 for a scalar), without recursing."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level + 1)
            if level + 1 <= MAX_BODY_DEPTH:
                stack.extend((child, level + 1) for child in item)
    return deepest


def parse_json_body(body: bytes, what: str) -> Any:
    """The parsed body; ApiError 400 when it is not UTF-8, not JSON, or nested too deeply.

    ``what`` completes "send ...": what the route expects, e.g. "a Distribution notification envelope".
    """
    try:
        text = body.decode("utf-8-sig")  # not json.loads' guess, which takes a leading NUL for UTF-16
    except UnicodeDecodeError:
        raise ApiError(400, f"{NOT_UTF8} ({what})") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise ApiError(400, TOO_DEEP) from None
    except ValueError:
        raise ApiError(400, f"the body is not JSON: send {what}") from None
    if depth(value) > MAX_BODY_DEPTH:
        raise ApiError(400, TOO_DEEP)
    return value


NUL_IN_JSON = f"{NUL_NOT_ALLOWED} in text (\\u0000)"
NUL_IN_URL = f"{NUL_NOT_ALLOWED} (%00)"


def nul_location(value: Any) -> str | None:
    """Where the first text holding a NUL character is in a parsed JSON value, as the validation
    errors name fields (``title``, ``eventConfig.tag-patterns.1``, ``data.updated_tags (a key)``,
    ``the body`` when the body is that text), or None when no text holds one."""
    stack: list[tuple[Any, tuple[str, ...]]] = [(value, ())]
    while stack:
        item, path = stack.pop()
        children: list[tuple[Any, tuple[str, ...]]] = []
        if isinstance(item, str):
            if "\x00" in item:
                return ".".join(path) or "the body"
        elif isinstance(item, dict):
            for key, child in item.items():
                if "\x00" in key:
                    return f"{'.'.join(path) or 'the body'} (a key)"
                children.append((child, (*path, key)))
        elif isinstance(item, list):
            children = [(child, (*path, str(position))) for position, child in enumerate(item)]
        stack.extend(reversed(children))  # in the body's order
    return None


def nul_in_json(body: bytes) -> str | None:
    """What to say when a JSON body holds a NUL character, else None (also when it is not JSON:
    its parser says so)."""
    # JSON writes NUL as \u0000 (a raw one is not JSON); UTF-16 and UTF-32 bodies, which the parser
    # reads too, hold raw zero bytes: those are parsed to be sure.
    if b"\\u0000" not in body and b"\x00" not in body:
        return None
    try:
        value = json.loads(body)  # as FastAPI parses it
    except (ValueError, RecursionError):
        return None
    where = nul_location(value)
    return f"{where}: {NUL_IN_JSON}" if where is not None else None


def nul_in_url(scope: Scope) -> str | None:
    """What to say when the path or a query parameter holds a NUL character, else None."""
    path: str = scope["path"]
    if "\x00" in path:
        return f"the path {path.replace(chr(0), '%00')}: {NUL_IN_URL}"
    query: bytes = scope.get("query_string", b"")
    if b"%00" in query or b"\x00" in query:
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):  # as Starlette
            if "\x00" in name or "\x00" in value:
                return f"query parameter {name.replace(chr(0), '%00')}: {NUL_IN_URL}"
    return None


def parses_body(route: Any) -> bool:
    """Whether FastAPI parses the route's body into a model (the others read theirs by hand)."""
    return isinstance(route, APIRoute) and route.body_field is not None


class RefuseNul:
    """ASGI middleware: API input holding a NUL character gets a 400 in Quay's shape.

    The path and query are checked before routing. A JSON body is checked as it arrives, once
    routing has picked the route (which reads it): only when FastAPI parses it for the route."""

    def __init__(self, app: ASGIApp, prefix: str = "/api/") -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        problem = nul_in_url(scope)
        if problem is not None:
            await error_response(Request(scope), 400, problem)(scope, receive, send)
            return
        content_type = next((value for name, value in scope["headers"] if name == b"content-type"), None)
        if content_type is None or not is_json(content_type.decode("latin-1")):
            await self.app(scope, receive, send)
            return
        await self.app(scope, _checked(scope, receive), send)


def _checked(scope: Scope, receive: Receive) -> Callable[[], Awaitable[Message]]:
    chunks: list[bytes] | None = []

    async def checked_receive() -> Message:
        nonlocal chunks
        message = await receive()
        if chunks is None or message["type"] != "http.request":
            return message
        if not parses_body(scope.get("route")):
            chunks = None  # read by hand: the route judges it
            return message
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            body, chunks = b"".join(chunks), None
            problem = nul_in_json(body)
            if problem is not None:
                # FastAPI passes an HTTPException raised while reading the body through untouched,
                # and the error handlers turn it into Quay's shape.
                raise HTTPException(400, problem)
        return message

    return checked_receive
