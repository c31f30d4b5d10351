"""Pausing Python's cyclic garbage collector around a bulk build, safely across threads.

Building tens of thousands of small objects with the collector running makes each of its
passes walk everything built so far. The collector switch is process-wide, so pauses are
counted under a lock: it is switched back on when the last overlapping pause ends, and only
if it was on when the first began. Concurrent loads never leave it off.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the body with the cyclic collector off (reference counting still frees memory)."""
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
