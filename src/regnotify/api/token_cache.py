"""Bearer tokens this API process checked a moment ago, so that a registry posting many events a
second is not looked up in the database on every request.

A live token is trusted for ``TOKEN_CACHE_SECONDS`` after its lookup (5 s by default): a token
revoked meanwhile keeps working in a process that had just checked it for at most that long. Unknown
and revoked tokens are never cached, so a wrong guess is looked up every time. Only who the token
belongs to is cached; what that user may do is still read from the database on every request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

from regnotify.accounts.tokens import hash_token

MAX_ENTRIES = 10_000
T = TypeVar("T")


class TokenCache(Generic[T]):
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._entries: dict[str, tuple[float, T]] = {}

    def get(self, raw: str, ttl: float) -> T | None:
        """What ``put`` stored for this token, if it was less than ``ttl`` seconds ago."""
        if ttl <= 0:
            return None
        key = hash_token(raw)
        entry = self._entries.get(key)
        if entry is None:
            return None
        stored_at, value = entry
        if self.clock() - stored_at >= ttl:
            del self._entries[key]
            return None
        return value

    def put(self, raw: str, value: T) -> None:
        if len(self._entries) >= MAX_ENTRIES:  # many tokens at once: start afresh rather than grow
            self._entries.clear()
        self._entries[hash_token(raw)] = (self.clock(), value)
