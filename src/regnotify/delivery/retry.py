"""The retry policy: when a failed delivery is tried again, and when it is given up."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

JITTER = 0.2  # up to 20% added to each wait, so retries from one outage do not arrive in step


@dataclass(frozen=True)
class RetryPolicy:
    """``schedule[i]`` is the wait in seconds after failed try number ``i + 1``; then we give up."""

    schedule: Sequence[float]
    retry_after_cap: float

    def next_delay(
        self, attempts_made: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float | None:
        """Seconds until the next try after ``attempts_made`` tries, or None when the schedule is used up.

        A receiver's ``Retry-After`` is honoured (up to the cap) when it asks for longer than the
        schedule would wait.
        """
        index = attempts_made - 1
        if index < 0 or index >= len(self.schedule):
            return None
        base = float(self.schedule[index])
        delay = base + base * JITTER * (rng or random).random()
        if retry_after is not None and retry_after > delay:
            delay = min(retry_after, self.retry_after_cap)
        return delay

    @property
    def max_attempts(self) -> int:
        return len(self.schedule) + 1
