"""The bulk writer: batches commit in order, one at a time; a diff waits for a write in flight
that touches its orders; a failed write stops the ones after it and reaches the caller."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text

from ordersync_pipeline.db import tables
from ordersync_pipeline.db.writes import BulkWriter


def _cursor_write(value: str, gate: threading.Event | None = None):
    def write(conn):
        if gate is not None:
            assert gate.wait(10)
        conn.execute(
            tables.sync_cursors.insert().values(
                marketplace_id=1, sync_type=value, cursor=value, updated_at=tables.utcnow()
            )
        )

    return write


@pytest.fixture
def marketplace(engine):
    with engine.begin() as conn:
        conn.execute(
            tables.marketplaces.insert().values(
                id=1, code="m", kind="backmarket", base_url="http://x", token_env="T", settings={}
            )
        )


def _cursors(engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(tables.sync_cursors.c.cursor).order_by(tables.sync_cursors.c.updated_at)).scalars()
        )


def test_writes_commit_in_order_and_all_of_them_by_the_end(engine, marketplace):
    with BulkWriter(engine) as pipeline:
        for value in ("a", "b", "c"):
            pipeline.submit([value], _cursor_write(value))
    assert _cursors(engine) == ["a", "b", "c"]


def test_reading_orders_of_the_write_in_flight_waits_for_it_and_others_do_not(engine, marketplace):
    gate = threading.Event()
    with BulkWriter(engine) as pipeline:
        pipeline.submit(["1001", "1002"], _cursor_write("a", gate))

        pipeline.before_reading(["2001"])  # another order: no wait, the write is still held back
        assert _cursors(engine) == []

        waiter = threading.Thread(target=pipeline.before_reading, args=(["1002", "3001"],))
        waiter.start()
        waiter.join(0.3)
        assert waiter.is_alive()  # waits for the write in flight
        gate.set()
        waiter.join(10)
        assert not waiter.is_alive()
        assert _cursors(engine) == ["a"]


def test_a_failed_write_reaches_the_caller_and_no_later_write_runs(engine, marketplace):
    def broken(conn):
        conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception, match="no_such_table"), BulkWriter(engine) as pipeline:
        pipeline.submit(["1"], _cursor_write("a"))
        pipeline.submit(["2"], broken)
        pipeline.submit(["3"], _cursor_write("c"))
    assert _cursors(engine) == ["a"]


def test_a_caller_that_fails_keeps_its_error_and_the_write_in_flight_still_ends(engine, marketplace):
    gate = threading.Event()
    with pytest.raises(RuntimeError, match="the listing broke"), BulkWriter(engine) as pipeline:
        pipeline.submit(["1"], _cursor_write("a", gate))
        gate.set()
        raise RuntimeError("the listing broke")
    assert _cursors(engine) == ["a"]
