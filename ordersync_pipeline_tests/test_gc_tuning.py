"""Bulk work collects garbage less often, and leaves the collector as it found it."""

from __future__ import annotations

import gc
import threading

from ordersync_pipeline.gc_tuning import BULK_THRESHOLD, collect_less_often


def test_the_collector_is_tuned_while_the_outermost_block_runs_and_restored_after():
    before = gc.get_threshold()
    with collect_less_often():
        assert gc.get_threshold()[0] == max(BULK_THRESHOLD, before[0])
        assert gc.get_freeze_count() > 0
        with collect_less_often():
            pass
        assert gc.get_threshold()[0] == max(BULK_THRESHOLD, before[0])  # the inner block left it so
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_a_failing_block_restores_the_collector_too():
    before = gc.get_threshold()
    try:
        with collect_less_often():
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_blocks_on_two_threads_restore_the_collector_once_both_are_done():
    before = gc.get_threshold()
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with collect_less_often():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    thread.start()
    inside.wait(5)
    with collect_less_often():
        pass
    still_tuned = gc.get_threshold()[0]
    release.set()
    thread.join()

    assert still_tuned == max(BULK_THRESHOLD, before[0])
    assert gc.get_threshold() == before and gc.get_freeze_count() == 0


def test_garbage_cycles_made_during_bulk_work_are_still_collected():
    class Node:
        pass

    with collect_less_often():
        node = Node()
        node.self = node
        watch = threading.local()  # any object outliving the cycle
        del node
        collected = gc.collect()
    assert collected >= 1 and watch is not None
