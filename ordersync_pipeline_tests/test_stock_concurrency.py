"""Two appliers at once on Postgres, in two real processes, leave exactly what one applier leaves;
a count imported while an apply runs waits for it."""

from __future__ import annotations

import multiprocessing
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from ordersync_pipeline.db.engine import make_engine, upgrade
from ordersync_pipeline.db.tables import marketplace_stock, order_events, order_items, utcnow
from ordersync_pipeline.stock.apply import apply_pending_events
from ordersync_pipeline.stock.checks import all_checks
from ordersync_pipeline.stock.importer import import_stock
from ordersync_pipeline_tests.conftest import _create_postgres_database, _drop_postgres_database
from ordersync_pipeline_tests.stock_helpers import (
    add_listing,
    add_marketplace,
    apply_in_process,
    book_state,
    build_busy_book,
    change_status,
    create_order,
    locks_by_item,
    on_hand,
    set_on_hand,
)

BATCH = 5


@pytest.fixture
def reference_url():
    url = _create_postgres_database()
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    _drop_postgres_database(url)


@pytest.mark.parametrize("round_", range(3))
def test_two_appliers_in_two_processes_leave_what_one_leaves(postgres_url, reference_url, round_):
    racing, alone = make_engine(postgres_url), make_engine(reference_url)
    try:
        build_busy_book(racing, orders_count=120, seed=round_)
        build_busy_book(alone, orders_count=120, seed=round_)
        with racing.connect() as conn:
            pending = conn.execute(select(func.count()).select_from(order_events)).scalar_one()

        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(2), ctx.Queue()
        workers = [ctx.Process(target=apply_in_process, args=(postgres_url, BATCH, barrier, results)) for _ in "ab"]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(timeout=30)
        assert [status for status, *_ in outcomes] == ["ok", "ok"], outcomes
        # Every event applied exactly once, by one applier or the other.
        assert sum(events for _, events, _ in outcomes) == pending

        apply_pending_events(alone, batch_size=BATCH)
        assert book_state(racing) == book_state(alone)
        failed = {r.name for r in all_checks(racing) if not r.passed}
        assert failed <= {"no_short_locks"}  # the book is oversold on purpose, nothing else
    finally:
        racing.dispose()
        alone.dispose()


def _waiting(engine, *query_starts: str) -> bool:
    """Whether a backend waits on a lock while running a statement that starts one of these ways."""
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT query FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()")
        ).scalars()
        return any(query.lstrip().startswith(query_starts) for query in rows)


def _wait_until(what: str, condition) -> None:
    """Until ``condition`` holds; a guard against waiting for ever, not a measure of anything."""
    deadline = time.monotonic() + 120
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.05)


def test_a_recount_imported_while_an_apply_consumes_a_unit_shipped_after_the_count_takes_it_off_once(
    postgres_url, tmp_path
):
    engine = make_engine(postgres_url)
    try:
        shop = add_marketplace(engine, "bm-fr")
        set_on_hand(engine, "A", 5)
        add_listing(engine, shop, "A", "4001")
        order = create_order(engine, shop, "o1", [("A", 1, "paid")])
        apply_pending_events(engine)
        counted_at = utcnow()  # the shelf is counted, the paid order's unit on it: 5
        change_status(engine, order, "shipped")
        with engine.begin() as conn:
            conn.execute(order_items.update().values(shipped_at=utcnow()))  # it left after the count
        stock_file = tmp_path / "count.csv"
        stock_file.write_text("sku,on_hand\nA,5\n")

        # The apply consuming the unit is held just before it commits, its inventory row locked,
        # while the count is imported.
        with engine.connect() as holder:
            holder.begin()
            holder.execute(select(marketplace_stock.c.id).with_for_update())
            with ThreadPoolExecutor(2) as pool:
                applying = pool.submit(apply_pending_events, engine)
                _wait_until("the apply waiting", lambda: _waiting(engine, "UPDATE marketplace_stock"))
                importing = pool.submit(import_stock, engine, stock_file, counted_at)
                _wait_until("the import waiting", lambda: _waiting(engine, "INSERT INTO inventory", "SELECT inventory"))
                holder.rollback()
                assert applying.result(timeout=60).consumed == 1
                report = importing.result(timeout=60)
        assert report.ok and report.left_since_count == 1
        assert on_hand(engine) == {"A": 4}
        assert locks_by_item(engine)["o1-1"][0] == "consumed"
    finally:
        engine.dispose()
