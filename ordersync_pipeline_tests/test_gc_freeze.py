"""Bulk work leaves the objects from before it out of garbage collections, and undoes that after."""

from __future__ import annotations

import gc
import threading
import time
import weakref

from ordersync_pipeline.db.gc_freeze import collect_only_new_objects


def _no_bulk_work_running() -> None:
    """Wait for bulk work an earlier test may have left running on a thread of its own to end."""
    deadline = time.monotonic() + 30
    while gc.get_freeze_count() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert gc.get_freeze_count() == 0, "bulk work is still running on another thread"


def test_objects_from_before_are_frozen_while_the_outermost_block_runs():
    _no_bulk_work_running()
    with collect_only_new_objects():
        frozen = gc.get_freeze_count()
        with collect_only_new_objects():
            pass
        # The inner block left them frozen: an unfreeze would empty the count. It may still fall a
        # little, as frozen objects that die (on a thread another test left running) leave it.
        assert frozen > 0 and frozen * 0.9 < gc.get_freeze_count() <= frozen
    assert gc.get_freeze_count() == 0


def test_a_failing_block_unfreezes_too():
    _no_bulk_work_running()
    try:
        with collect_only_new_objects():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_freeze_count() == 0


def test_blocks_on_two_threads_unfreeze_once_both_are_done():
    _no_bulk_work_running()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collect_only_new_objects():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with collect_only_new_objects():
        pass
    still_frozen = gc.get_freeze_count()
    release.set()
    thread.join()

    assert still_frozen > 0 and gc.get_freeze_count() == 0


def test_garbage_cycles_made_during_bulk_work_are_still_collected_by_themselves():
    class Node:
        pass

    _no_bulk_work_running()
    with collect_only_new_objects():
        node = Node()
        node.self = node
        gone = weakref.ref(node)
        del node
        for _ in range(100):  # allocations enough to set off the collector on its own
            churn = [[] for _ in range(1000)]
            if gone() is None:
                break
        del churn
        collected = gone() is None
    assert collected
