"""Fewer cyclic garbage collections during bulk work.

A sync makes and drops millions of small containers (payload dicts, rows, records), nearly all of
them freed by reference counting as soon as their batch is written. With Python's defaults the
cyclic collector runs every 700 net allocations and keeps walking the batches in flight and every
object the process loaded (Dagster, SQLAlchemy, pydantic): a fifth of a first sync's time went
there. While bulk work runs, the objects that were there before it are left out of collections
(``gc.freeze``) and the youngest generation is collected a hundred times less often; garbage
cycles are still collected, only later.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: net allocations between collections of the youngest generation during bulk work (default 700)
BULK_THRESHOLD = 70_000

_lock = threading.Lock()
_depth = 0
_saved: tuple[int, int, int] | None = None


@contextmanager
def collect_less_often() -> Iterator[None]:
    """While the block runs (in any thread, nested or not), collect garbage less often."""
    global _depth, _saved
    with _lock:
        if _depth == 0:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(max(BULK_THRESHOLD, _saved[0]), *_saved[1:])
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                gc.set_threshold(*_saved)
                gc.unfreeze()
                _saved = None
