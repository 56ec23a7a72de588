"""Sign-in rate limit, in process: after ``max_failures`` wrong passwords for one username from one
client within ``window`` seconds, that pair must wait until the oldest failure leaves the window.

The client is the address uvicorn gives the request (``request.client``): the connection's own,
unless it comes from a proxy named in ``TRUSTED_PROXIES``, whose X-Forwarded-For then names the
client (``serve`` passes that list to uvicorn). Trusting the header from anyone else would let a
caller pick a fresh "client" for every guess.

In-process on purpose: it needs no table and no clean-up job. Each ``serve`` process counts on its
own, so N processes allow N times the attempts; that still turns guessing into a crawl.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

MAX_TRACKED = 10_000


class SignInThrottle:
    def __init__(
        self, max_failures: int = 5, window: float = 900.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        failures = self._failures.get(key, deque())
        cutoff = self.clock() - self.window
        while failures and failures[0] <= cutoff:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures

    def wait_seconds(self, username: str, client: str) -> float:
        """0 when this pair may try now, else how long until it may."""
        failures = self._recent((username.lower(), client))
        if len(failures) < self.max_failures:
            return 0.0
        return max(1.0, failures[0] + self.window - self.clock())

    def failed(self, username: str, client: str) -> None:
        if len(self._failures) >= MAX_TRACKED:  # forget the oldest pairs rather than grow without bound
            for key in list(self._failures)[: MAX_TRACKED // 10]:
                del self._failures[key]
        key = (username.lower(), client)
        self._failures.setdefault(key, deque()).append(self.clock())

    def succeeded(self, username: str, client: str) -> None:
        self._failures.pop((username.lower(), client), None)
