"""The real-time path in the Dagster instance: its work as observations of the assets it touched,
and ``realtime_is_running``, red when the receiver or a watcher stopped beating."""

from __future__ import annotations

from datetime import timedelta

import pytest
from dagster import AssetCheckSeverity, AssetKey, AssetRecordsFilter, instance_for_test
from sqlalchemy import update

from ordersync_pipeline.db import tables
from ordersync_pipeline.db.tables import utcnow
from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.realtime.observations import InstanceRecorder
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.realtime import heartbeat
from ordersync_pipeline_tests.realtime_helpers import LINE, notify, open_shop, wait_for


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


@pytest.fixture
def shop(engine, monkeypatch):
    shop = open_shop(engine, monkeypatch)
    with shop.stack:
        yield shop


def _observations(instance, asset: str, partition: str | None = None) -> list[dict]:
    filter_ = AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[partition] if partition else None)
    records = instance.fetch_observations(filter_, limit=100).records
    return [
        {k: v.value for k, v in record.asset_observation.metadata.items()} | {"partition": record.partition_key}
        for record in records
    ]


def test_an_order_taken_in_in_real_time_shows_as_observations_of_the_assets(shop, instance):
    recorder = InstanceRecorder(instance)
    service = shop.service(watch=False)
    service.on_activity = recorder
    order = shop.rb.world.create_order(lines=[LINE], state="NEW")
    assert notify(service.url, order)[0] == 200
    wait_for(lambda: shop.listed() == (2, 2), what="Back Market's listing lowered")
    wait_for(lambda: _observations(instance, "stock_push"), what="the push observed")
    recorder.close()

    (taken,) = _observations(instance, "marketplace_orders", "refurbed-de|new")
    assert taken["source"] == "notification"
    assert (taken["orders_taken_in"], taken["created"], taken["accepted"]) == (1, 1, 1)
    assert 0 <= taken["latency_max_s"] < 600
    pushes = _observations(instance, "stock_push")
    # Both listings: Back Market's, and Refurbed's that lowered itself from what was last pushed.
    assert sum(p["pushed"] for p in pushes) == 2 and all(p["failed"] == 0 for p in pushes)
    assert sum(o["locked"] for o in _observations(instance, "stock_locks")) == 1
    # Observations, not materializations: the stock runs' automation is not asked for a run.
    assert instance.fetch_materializations(AssetKey("stock_push"), limit=1).records == []


def _run_check(instance, db_url):
    result = defs.resolve_job_def("watch_realtime").execute_in_process(
        instance=instance, resources={"database": OrdersyncDatabase(url=db_url, apply_config=False)}
    )
    (evaluation,) = result.get_asset_check_evaluations()
    return evaluation


def test_realtime_is_running_goes_red_when_a_heartbeat_is_stale(shop, instance, db_url):
    evaluation = _run_check(instance, db_url)
    assert evaluation.passed and "no real-time component" in evaluation.description

    heartbeat.beat(shop.engine, "receiver", shop.rb.row().id, 20.0, {})
    heartbeat.beat(shop.engine, "watcher", shop.bm.row().id, 20.0, {"polls": 3})
    evaluation = _run_check(instance, db_url)
    assert evaluation.passed and "2 real-time component(s) beating" in evaluation.description

    with shop.engine.begin() as conn:
        conn.execute(
            update(tables.realtime_heartbeats)
            .where(tables.realtime_heartbeats.c.component == "watcher")
            .values(beat_at=utcnow() - timedelta(seconds=61))
        )
    evaluation = _run_check(instance, db_url)
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert evaluation.description == "stopped: watcher of backmarket-fr"
    assert evaluation.metadata["stopped"].value == 1


def test_a_running_service_keeps_its_heartbeats_fresh(shop, instance, db_url):
    shop.service()
    wait_for(lambda: {b.component for b in heartbeat.heartbeats(shop.engine)} == {"receiver", "watcher"})
    assert _run_check(instance, db_url).passed
