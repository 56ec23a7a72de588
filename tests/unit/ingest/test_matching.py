"""Choosing the notifications an event fires: cheap matching on the loop, heavy matching in a thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from regnotify.db.models import Notification
from regnotify.events import get_event_kind
from regnotify.ingest.matching import INLINE_WORK, matching_notifications

DIGEST = "sha256:" + "a" * 64


def notification(event_config: dict[str, Any]) -> Notification:
    return Notification(event="repo_push", method="webhook", config={}, event_config=event_config)


@pytest.fixture
def threads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The threads the matching ran on (the loop's own thread when inline)."""
    seen: list[int] = []
    kind = get_event_kind("repo_push")
    original = type(kind).matches

    def spy(self: Any, config: Any, payload: Any) -> bool:
        seen.append(threading.get_ident())
        return original(self, config, payload)

    monkeypatch.setattr(type(kind), "matches", spy)
    return seen


async def test_a_few_patterns_match_on_the_loop(threads: list[int]) -> None:
    kind = get_event_kind("repo_push")
    candidates = [notification({"tag-patterns": ["v*"]}), notification({"tag-patterns": ["latest"]})]
    payload = {"updated_tags": {"v1": DIGEST}}
    assert await matching_notifications(kind, candidates, payload) == candidates[:1]
    assert set(threads) == {threading.get_ident()}


async def test_many_globs_against_many_tags_match_in_a_thread(threads: list[int]) -> None:
    kind = get_event_kind("repo_push")
    globs = ["*a" + "?" * 20 + "b" + str(index) for index in range(50)]
    candidates = [notification({"tag-patterns": globs}), notification({"tag-patterns": ["t999"]})]
    payload = {"updated_tags": {f"t{index}": DIGEST for index in range(1000)}}
    assert sum(kind.match_work(n.event_config, payload) for n in candidates) > INLINE_WORK
    assert await matching_notifications(kind, candidates, payload) == candidates[1:]
    assert threading.get_ident() not in threads


async def test_a_long_ref_against_a_ref_regex_is_matched_in_a_thread(
    threads: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    kind = get_event_kind("build_success")
    seen: list[int] = []
    original = type(kind).matches

    def spy(self: Any, config: Any, payload: Any) -> bool:
        seen.append(threading.get_ident())
        return original(self, config, payload)

    monkeypatch.setattr(type(kind), "matches", spy)
    candidates = [notification({"ref-regex": "^(a+)+$"}) for _ in range(10)]
    payload = {"trigger_metadata": {"ref": "a" * 4096 + "!"}}
    assert await matching_notifications(kind, candidates, payload) == []
    assert seen and threading.get_ident() not in seen
    payload = {"trigger_metadata": {"ref": "a" * 4096}}
    assert await matching_notifications(kind, candidates, payload) == candidates


async def test_odd_stored_configs_cost_little_and_never_raise() -> None:
    kind = get_event_kind("repo_push")
    for config in ({"tag-patterns": 5}, {"tag-patterns": [None, 3]}, {}, None):
        assert 0 <= kind.match_work(config, {"updated_tags": {"x": DIGEST}}) < 10  # type: ignore[arg-type]
