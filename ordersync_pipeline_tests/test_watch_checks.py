"""The checks an operator watches, run as the daemon runs them (jobs on a real Dagster instance, a
real database): each passes on a healthy book and fails, naming what is wrong, on a broken one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import AssetCheckSeverity, AssetKey, AssetMaterialization, instance_for_test
from sqlalchemy import update

from ordersync_pipeline.db import tables
from ordersync_pipeline.db.tables import utcnow
from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.stock.apply import apply_pending_events
from ordersync_pipeline_tests.stock_helpers import (
    add_listing,
    add_marketplace,
    age_events,
    create_order,
    set_on_hand,
)

# An address nothing listens on, and no retries: a push there fails at once.
NOWHERE = {"base_url": "http://127.0.0.1:9", "settings": {"max_retries": 0, "backoff_factor": 0}}


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def database(db_url, monkeypatch):
    monkeypatch.setenv("TEST_TOKEN", "token")
    # The marketplace rows are the test's own, not the configuration file's.
    return OrdersyncDatabase(url=db_url, apply_config=False)


def _run(instance, database, job: str, **kwargs):
    return defs.resolve_job_def(job).execute_in_process(
        instance=instance, resources={"database": database}, raise_on_error=False, **kwargs
    )


def _evaluation(result, name: str):
    (evaluation,) = [e for e in result.get_asset_check_evaluations() if e.check_name == name]
    return evaluation, {k: v.value for k, v in evaluation.metadata.items()}


def _add_sync_error(engine, marketplace_id: int, reference: str | None, error: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            tables.sync_errors.insert(),
            {
                "marketplace_id": marketplace_id,
                "sync_type": "new",
                "reference": reference,
                "error": error,
                "payload": "{}",
                "created_at": utcnow(),
            },
        )


def test_unresolved_sync_errors_warn_naming_the_orders(instance, database, engine):
    mp = add_marketplace(engine, "bm-fr")
    healthy = _run(instance, database, "watch_orders")
    evaluation, metadata = _evaluation(healthy, "no_unresolved_sync_errors")
    assert evaluation.passed and metadata["unresolved"] == 0

    _add_sync_error(engine, mp, "4711", "orderlines[0].price: not a decimal")
    _add_sync_error(engine, mp, "4712", "state: unknown value 99")
    evaluation, metadata = _evaluation(_run(instance, database, "watch_orders"), "no_unresolved_sync_errors")

    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert metadata["unresolved"] == 2
    assert "bm-fr 4711" in evaluation.description and "bm-fr 4712" in evaluation.description
    assert "| bm-fr | new | 4711 | orderlines[0].price: not a decimal |" in metadata["errors"]


def test_freshness_runs_on_its_own_and_names_each_stale_marketplace_and_type(instance, database, engine):
    add_marketplace(engine, "bm-fr")
    add_marketplace(engine, "rf-de", kind="refurbed")
    instance.report_runless_asset_event(
        AssetMaterialization(asset_key=AssetKey("marketplace_orders"), partition="bm-fr|new")
    )

    result = _run(instance, database, "watch_orders")

    assert result.success  # no sync in this run: nothing can keep the check from running
    evaluation, metadata = _evaluation(result, "orders_synced_recently")
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    stale = evaluation.description
    assert "bm-fr|new" not in stale  # synced just now
    for key in ("bm-fr|modified", "bm-fr|care", "bm-fr|incomplete", "rf-de|new", "rf-de|incomplete"):
        assert key in stale
    assert "rf-de|care" not in stale  # Refurbed has no care sync
    assert metadata["stale_partitions"] == 6
    assert "| rf-de | new | never |" in metadata["stale"]


def test_sync_runs_leave_the_order_books_checks_to_their_own_job():
    sync_checks = defs.resolve_job_def("sync_orders").asset_layer.asset_graph.asset_check_keys
    watch_checks = defs.resolve_job_def("watch_orders").asset_layer.asset_graph.asset_check_keys
    assert {k.name for k in watch_checks} == {"orders_synced_recently", "no_unresolved_sync_errors"}
    assert not {k.name for k in sync_checks} & {"orders_synced_recently", "no_unresolved_sync_errors"}


@pytest.fixture
def shop(engine):
    """One marketplace listing two SKUs of which one unit each is on hand."""
    mp = add_marketplace(engine, "bm-fr", **NOWHERE)
    for sku in ("A", "B"):
        set_on_hand(engine, sku, 1)
        add_listing(engine, mp, sku, f"L-{sku}")
    return mp


def test_a_failed_push_fails_its_check_naming_the_listings(instance, database, engine, shop):
    result = _run(instance, database, "push_stock")

    evaluation, metadata = _evaluation(result, "no_failed_pushes")
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert metadata["failed"] == 2
    assert "bm-fr, L-A" in evaluation.description and "bm-fr, L-B" in evaluation.description
    assert "| bm-fr, L-A |" in metadata["listings"]


def test_standing_oversells_are_a_gauge_and_a_warning_naming_skus_and_orders(instance, database, engine, shop):
    create_order(engine, shop, "o1", [("A", 1, "paid")])
    create_order(engine, shop, "o2", [("A", 1, "paid")])  # no unit left for it: short

    first = _run(instance, database, "apply_stock")
    second = _run(instance, database, "apply_stock")  # nothing new: the oversell still stands

    figures = [
        {k: v.value for k, v in m.metadata.items()}
        for r in (first, second)
        for m in r.asset_materializations_for_node("stock_locks")
    ]
    assert [(f["short"], f["standing_short_locks"]) for f in figures] == [(1, 1), (0, 1)]
    evaluation, metadata = _evaluation(second, "no_oversell")
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert metadata["offenders"] == 1
    assert "order o2" in metadata["details"] and " x A " in metadata["details"] and "order o1" in metadata["details"]


def test_the_oldest_pending_events_age_is_shown_and_fails_past_the_limit(instance, database, engine, shop):
    create_order(engine, shop, "o1", [("B", 1, "paid")])
    age_events(engine, timedelta(minutes=45))

    evaluation, metadata = _evaluation(_run(instance, database, "update_stock"), "no_stale_order_events")
    # Checked after the apply took the event: nothing waits.
    assert evaluation.passed and metadata["pending_events"] == 0 and metadata["oldest_pending_age_minutes"] == 0

    create_order(engine, shop, "o2", [("A", 1, "paid")])
    age_events(engine, timedelta(minutes=45))
    watch_only = defs.resolve_job_def("apply_stock").execute_in_process(
        instance=instance,
        resources={"database": database},
        raise_on_error=False,
        op_selection=["stock_locks_no_stale_order_events"],
    )
    evaluation, metadata = _evaluation(watch_only, "no_stale_order_events")
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert metadata["pending_events"] == 1
    assert 44 <= metadata["oldest_pending_age_minutes"] <= 60
    assert "of order o2" in metadata["details"]


def test_a_failed_stock_state_check_blocks_the_push(instance, database, engine, shop):
    create_order(engine, shop, "o1", [("B", 1, "paid")])
    apply_pending_events(engine)
    with engine.begin() as conn:  # drift: the listing says 3 units are locked, the locks hold 1
        conn.execute(
            update(tables.marketplace_stock).values(locked_quantity=3).where(tables.marketplace_stock.c.sku == "B")
        )

    result = _run(instance, database, "update_stock")

    evaluation, _ = _evaluation(result, "locked_quantity_matches_locks")
    assert not evaluation.passed
    assert not result.success
    assert result.asset_materializations_for_node("stock_push") == []  # nothing sent
