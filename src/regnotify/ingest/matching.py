"""Which notifications an event fires, without holding the event loop for a tenant's patterns.

Filters run in time linear in their input (``ref-regex`` on RE2, tag globs with ``fnmatch``, which
cannot backtrack), but a repository may hold ``MAX_NOTIFICATIONS_PER_REPOSITORY`` notifications
with 50 globs each, and an event may carry 1,000 tags or a 4,096-character ref: linear can still
mean a second. So the work is estimated first (``EventKind.match_work``: one step per glob and
tag, four steps per character of ref for a ``ref-regex``). Up to ``INLINE_WORK`` steps (about a
millisecond of globs, at most ~10 ms of the slowest RE2 programs) it is done on the loop; beyond
that in a worker thread: RE2 releases the GIL while it matches, and Python's own work gives the
loop the GIL back every switch interval (5 ms). The caller's transaction stays open meanwhile;
the loop, and everything else in the process, does not wait for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from regnotify.db.models import Notification
from regnotify.events import EventKind

INLINE_WORK = 2_000

N = TypeVar("N", bound=Notification)


async def matching_notifications(
    kind: EventKind, candidates: Sequence[N], payload: Mapping[str, Any]
) -> list[N]:
    """The candidates whose stored event config fires for ``payload``, in their order."""

    def choose() -> list[N]:
        return [n for n in candidates if kind.matches(n.event_config, payload)]

    work = sum(kind.match_work(n.event_config, payload) for n in candidates)
    if work <= INLINE_WORK:
        return choose()
    return await asyncio.to_thread(choose)
