"""Start-up objects leave the collector's generations; what the process makes afterwards does not."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from regnotify.runtime.heap import freeze_startup_objects


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@pytest.fixture
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()  # give this test process its generations back


def test_frozen_objects_are_left_alone_and_later_ones_collected(unfrozen: None) -> None:
    before = Node()
    before_ref = weakref.ref(before)
    assert freeze_startup_objects() >= 1
    assert gc.get_freeze_count() >= 1

    after = Node()
    after_ref = weakref.ref(after)
    del before, after
    gc.collect()
    assert after_ref() is None  # made after start-up: collected as ever
    assert before_ref() is not None  # frozen: a full pass no longer walks it

    gc.unfreeze()
    gc.collect()
    assert before_ref() is None
