"""The sign-in throttle: per username and client, a window that slides."""

from __future__ import annotations

from regnotify.web.signin_throttle import SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_blocks_after_the_limit_and_frees_as_failures_age() -> None:
    clock = Clock()
    throttle = SignInThrottle(max_failures=3, window=60, clock=clock)
    for _ in range(3):
        assert throttle.wait_seconds("Alice", "10.0.0.1") == 0
        throttle.failed("alice", "10.0.0.1")
        clock.now += 1
    assert 55 <= throttle.wait_seconds("ALICE", "10.0.0.1") <= 60  # names are case-insensitive
    assert throttle.wait_seconds("alice", "10.0.0.2") == 0  # another client
    assert throttle.wait_seconds("bob", "10.0.0.1") == 0  # another user
    clock.now += 58
    assert throttle.wait_seconds("alice", "10.0.0.1") == 0  # the oldest failure left the window


def test_success_forgets_failures() -> None:
    throttle = SignInThrottle(max_failures=2, window=60, clock=Clock())
    throttle.failed("alice", "c")
    throttle.succeeded("alice", "c")
    throttle.failed("alice", "c")
    assert throttle.wait_seconds("alice", "c") == 0
