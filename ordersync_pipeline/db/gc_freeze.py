"""Cheaper cyclic garbage collections during bulk work.

A sync makes and drops millions of small containers (payload dicts, rows, records), nearly all of
them freed by reference counting as soon as their batch is written, but their churn keeps setting
off the cyclic collector, whose full collections walk every object the process has loaded
(Dagster, SQLAlchemy, pydantic). While bulk work runs, the objects that were there before it are
left out of collections (``gc.freeze``); new garbage cycles are collected as usual. (Collecting
less often as well would leave garbage lingering, and peak memory would grow with the run.)
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0


@contextmanager
def collect_only_new_objects() -> Iterator[None]:
    """While the block runs (in any thread, nested or not), collections skip the objects from before it."""
    global _depth
    with _lock:
        if _depth == 0:
            gc.freeze()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                gc.unfreeze()
