"""Short garbage-collector pauses in long-running processes.

Python's full collection walks every object that survived the younger ones: in an API or worker
process, mostly the modules, mappers, models and templates loaded at start-up, which live as long
as the process. Measured in the ingest benchmark, each full pass paused a process for 35-135 ms,
several times a minute, and every request or send in flight waited that long. Once start-up is
done, ``freeze_startup_objects`` moves what exists then out of the collector's generations, so a
full pass only walks what the process made since. ``regnotify serve`` and ``regnotify worker`` call
it just before they start serving (not ``create_app``: a test process makes many applications).
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


def freeze_startup_objects() -> int:
    """Collect once, then exempt every object alive now from later collections; how many."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("%d start-up objects frozen out of garbage collection", frozen)
    return frozen
