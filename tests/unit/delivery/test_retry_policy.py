"""The retry schedule: waits with jitter, Retry-After honoured up to a cap, and giving up."""

from __future__ import annotations

import random

from regnotify.config import Settings
from regnotify.delivery.retry import JITTER, RetryPolicy


def test_default_schedule_is_svix_like() -> None:
    policy = RetryPolicy(Settings().retry_schedule, 3600)
    assert list(policy.schedule) == [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert policy.max_attempts == 8


def test_waits_follow_the_schedule_with_bounded_jitter() -> None:
    policy = RetryPolicy([5, 300], 3600)
    rng = random.Random(7)
    for attempts, base in ((1, 5), (2, 300)):
        for _ in range(50):
            delay = policy.next_delay(attempts, rng=rng)
            assert delay is not None and base <= delay <= base * (1 + JITTER)
    assert policy.next_delay(3) is None
    assert policy.next_delay(0) is None


def test_retry_after_is_honoured_when_longer_and_capped() -> None:
    policy = RetryPolicy([5, 300], 120)
    assert policy.next_delay(1, retry_after=60) == 60
    assert policy.next_delay(1, retry_after=10_000) == 120
    shorter = policy.next_delay(2, retry_after=1)
    assert shorter is not None and shorter >= 300
    assert policy.next_delay(3, retry_after=60) is None  # the schedule is used up all the same
