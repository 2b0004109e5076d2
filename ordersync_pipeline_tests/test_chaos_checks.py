"""The chaos benchmark's check of one OrderStatusChanged per real transition, on both databases."""

from __future__ import annotations

import dataclasses

from benchmarks.chaos_checks import transition_violations
from ordersync_pipeline.marketplaces.base import Status
from ordersync_pipeline.sync.order_writer import write_orders
from ordersync_pipeline_tests.test_order_writer import SHIPPED


def _as(status: Status) -> object:
    item = dataclasses.replace(SHIPPED.items[0], status=status)
    return dataclasses.replace(SHIPPED, status=status, items=(item,))


def test_a_history_that_only_moves_on_holds(engine, marketplace_id):
    for status in (Status.PAID, Status.ACCEPTED, Status.SHIPPED):
        with engine.begin() as conn:
            write_orders(conn, marketplace_id, [_as(status)])
    assert transition_violations(engine) == []


def test_an_older_version_written_over_a_newer_one_is_a_transition_recorded_twice(engine, marketplace_id):
    for status in (Status.PAID, Status.SHIPPED, Status.ACCEPTED, Status.SHIPPED):
        with engine.begin() as conn:
            write_orders(conn, marketplace_id, [_as(status)])
    [violation] = transition_violations(engine)
    assert "order 1001" in violation and "reached twice" in violation and "shipped" in violation
