"""The destination gate's bookkeeping: limits, lanes, holds, quarantine and probes, on a fake clock."""

from __future__ import annotations

import pytest

from regnotify.config import Settings
from regnotify.delivery.destinations import (
    HELD_QUARANTINED,
    HELD_SLOW,
    MAX_TRACKED,
    DestinationGate,
    Verdict,
)
from regnotify.methods import get_method
from regnotify.methods.base import url_destination


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def make_gate(clock: Clock, **settings: object) -> DestinationGate:
    values: dict[str, object] = {
        "per_host_concurrency": 4,
        "slow_lane_concurrency": 2,
        "destination_slow_after": 1.0,
        "destination_failure_threshold": 3,
        "destination_quarantine_seconds": 10,
        "destination_quarantine_max_seconds": 40,
        "http_total_timeout": 15,
        **settings,
    }
    return DestinationGate(Settings(**values), clock=clock)  # type: ignore[arg-type]


def test_a_fast_destination_waits_in_memory_at_its_limit(clock: Clock) -> None:
    gate = make_gate(clock)
    hook = gate.get("hooks.example:443")
    assert [gate.admit(hook).verdict for _ in range(5)] == [Verdict.START] * 4 + [Verdict.WAIT]
    gate.finished(hook, slow_lane=False, answered=True, seconds=0.01)
    assert gate.admit(hook).verdict is Verdict.START


def test_no_answer_halves_the_limit_and_answers_grow_it_back(clock: Clock) -> None:
    gate = make_gate(clock, destination_failure_threshold=10)
    hook = gate.get("h:80")
    for _ in range(2):
        gate.admit(hook)
        gate.finished(hook, slow_lane=False, answered=False, seconds=5)
    assert hook.limit == 1
    gate.admit(hook)
    gate.finished(hook, slow_lane=False, answered=True, seconds=0.01)
    assert (hook.limit, hook.failures) == (2, 0)


def test_a_slow_send_moves_lanes_and_later_sends_use_the_slow_lane_or_are_held(clock: Clock) -> None:
    gate = make_gate(clock)
    slow, other = gate.get("slow:80"), gate.get("other:80")
    assert gate.admit(slow).slow_lane is False
    assert gate.admit(slow).slow_lane is False
    assert gate.moved_to_slow_lane(slow) is True  # marks it slow
    assert gate.moved_to_slow_lane(slow) is False  # already slow
    gate.finished(slow, slow_lane=True, answered=None, seconds=0)
    gate.finished(slow, slow_lane=True, answered=None, seconds=0)
    assert gate.slow_lane_in_flight == 0 and slow.slow
    first, second, third = (gate.admit(slow) for _ in range(3))
    assert (first.slow_lane, second.slow_lane) == (True, True)
    assert third.verdict is Verdict.HOLD and third.reason == HELD_SLOW  # the slow lane (2) is full
    assert third.until == clock.now + 16
    other_admission = gate.admit(other)  # a fast destination is not affected
    assert (other_admission.verdict, other_admission.slow_lane) == (Verdict.START, False)


def test_a_slow_destination_at_its_limit_is_held_not_waited_for(clock: Clock) -> None:
    gate = make_gate(clock, per_host_concurrency=1, slow_lane_concurrency=10)
    slow = gate.get("slow:80")
    gate.admit(slow)
    gate.moved_to_slow_lane(slow)
    assert gate.admit(slow).verdict is Verdict.HOLD
    gate.count_held(HELD_SLOW, slow, notification_id=7)
    assert gate.releasable(slow) == 0
    gate.finished(slow, slow_lane=True, answered=True, seconds=3)  # answered, slowly: still slow
    assert slow.slow and gate.releasable(slow) == 1


def test_a_quick_answer_makes_a_destination_fast_again(clock: Clock) -> None:
    gate = make_gate(clock)
    hook = gate.get("h:80")
    gate.admit(hook)
    gate.moved_to_slow_lane(hook)
    gate.finished(hook, slow_lane=True, answered=True, seconds=1.5)
    assert hook.slow
    gate.admit(hook)
    gate.finished(hook, slow_lane=True, answered=True, seconds=0.05)
    assert not hook.slow and gate.slow_lane_in_flight == 0


def test_quarantine_after_the_threshold_then_one_probe(clock: Clock) -> None:
    gate = make_gate(clock, destination_failure_threshold=2)
    dead = gate.get("dead:80")
    gate.admit(dead)
    assert gate.finished(dead, slow_lane=False, answered=False, seconds=1) is False
    gate.admit(dead)
    assert gate.finished(dead, slow_lane=False, answered=False, seconds=1) is True
    held = gate.admit(dead)
    assert (held.verdict, held.reason) == (Verdict.HOLD, HELD_QUARANTINED)
    assert 9 <= held.until - clock.now <= 11  # 10 s with 10 % jitter
    assert gate.quarantined_count() == 1
    clock.now = held.until
    probe = gate.admit(dead)
    assert (probe.verdict, probe.slow_lane) == (Verdict.START, True)
    assert gate.admit(dead).verdict is Verdict.HOLD  # one probe at a time
    assert gate.finished(dead, slow_lane=True, answered=False, seconds=1) is True  # probe failed
    assert 18 <= dead.quarantined_until - clock.now <= 22  # doubled
    clock.now = dead.quarantined_until
    gate.admit(dead)
    gate.finished(dead, slow_lane=True, answered=True, seconds=0.01)  # an answer (any status) ends it
    assert not dead.quarantined and dead.failures == 0 and gate.quarantined_count() == 0


def test_quarantine_grows_no_longer_than_its_maximum(clock: Clock) -> None:
    gate = make_gate(clock, destination_failure_threshold=1)
    dead = gate.get("dead:80")
    for _ in range(6):
        clock.now = max(clock.now, dead.quarantined_until)
        assert gate.admit(dead).verdict is Verdict.START
        gate.finished(dead, slow_lane=True, answered=False, seconds=1)
    assert dead.quarantined_until - clock.now <= 44


def test_late_failures_of_sends_already_in_flight_do_not_requarantine(clock: Clock) -> None:
    gate = make_gate(clock, destination_failure_threshold=2)
    dead = gate.get("dead:80")
    for _ in range(4):
        gate.admit(dead)
    results = [gate.finished(dead, slow_lane=False, answered=False, seconds=15) for _ in range(4)]
    assert results == [False, True, False, False]
    assert dead.quarantines == 1


def test_nothing_sent_says_nothing_about_the_destination(clock: Clock) -> None:
    gate = make_gate(clock, destination_failure_threshold=1)
    hook = gate.get("h:80")
    gate.admit(hook)
    assert gate.finished(hook, slow_lane=False, answered=None, seconds=0) is False
    assert (hook.failures, hook.in_flight, hook.quarantined) == (0, 0, False)


def test_idle_destinations_are_forgotten_past_the_bound(clock: Clock) -> None:
    gate = make_gate(clock)
    busy = gate.get("busy:80")
    gate.admit(busy)
    for index in range(MAX_TRACKED + 5):
        gate.get(f"host{index}:80")
    assert len(gate.known()) <= MAX_TRACKED
    assert gate.get("busy:80") is busy  # one with a send in flight is kept


@pytest.mark.parametrize(
    ("url", "destination"),
    [
        ("https://hooks.slack.com/services/T/B/x", "hooks.slack.com:443"),
        ("http://Example.COM/hook", "example.com:80"),
        ("http://127.0.0.2:8080/x", "127.0.0.2:8080"),
        ("https://[::1]:9443/x", "[::1]:9443"),
        ("ftp://example.com/", None),
        ("not a url", None),
        (None, None),
    ],
)
def test_url_destination(url: object, destination: str | None) -> None:
    assert url_destination(url) == destination


def test_each_method_names_its_destination() -> None:
    settings = Settings(smtp_host="mail.example", smtp_port=25, hipchat_base_url="https://hc.example")
    assert get_method("webhook").destination({"url": "https://a.example/h"}, settings) == "a.example:443"
    assert get_method("slack").destination({"url": "https://hooks.slack.com/x"}, settings) == (
        "hooks.slack.com:443"
    )
    assert get_method("hipchat").destination({"room_id": "1"}, settings) == "hc.example:443"
    assert get_method("email").destination({"email": "a@b.example"}, settings) == "smtp:mail.example:25"
    assert get_method("email").destination({"email": "a@b.example"}, Settings()) is None  # the maildir
    assert get_method("quay_notification").destination({"target": {}}, settings) is None
