"""The Dagster code location: it loads, and its asset syncs partitions recorded in a real instance."""

from __future__ import annotations

import pytest
from dagster import (
    AssetKey,
    Definitions,
    instance_for_test,
    materialize,
)
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.orders.assets import marketplace_orders
from ordersync_pipeline.defs.partitions import orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase, log_progress
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline_tests.sync_helpers import TOKEN

PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}


def test_definitions_load():
    Definitions.validate_loadable(defs)
    assert defs.resolve_assets_def("marketplace_orders").partitions_def is not None


@pytest.fixture
def setup(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    with BackMarketSimulator(tokens={TOKEN}, seed=11, orders=0, port=0) as simulator:
        config = tmp_path / "marketplaces.yaml"
        config.write_text(
            "marketplaces:\n"
            "  - {code: backmarket-fr, kind: backmarket, base_url: '" + simulator.url + "', token_env: BM_FR_TOKEN,\n"
            "     settings: {max_retries: 1, backoff_factor: 0.01}}\n"
        )
        with instance_for_test() as instance:
            instance.add_dynamic_partitions("marketplace", ["backmarket-fr"])
            resources = {
                "database": OrdersyncDatabase(url=db_url, config_path=str(config)),
                "progress": log_progress,
            }
            yield simulator, instance, resources


def _metadata(instance, partition):
    event = instance.get_latest_materialization_event(AssetKey("marketplace_orders"))
    assert event.dagster_event.partition == partition
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_a_partition_materializes_with_its_sync_report_as_metadata(setup):
    simulator, instance, resources = setup
    simulator.world.create_order(lines=[PHONE], state=1)

    result = materialize(
        [marketplace_orders],
        partition_key=orders_partition_key("backmarket-fr", "new"),
        instance=instance,
        resources=resources,
    )

    assert result.success
    metadata = _metadata(instance, "backmarket-fr|new")
    assert (metadata["fetched"], metadata["created"], metadata["events"], metadata["accepted"]) == (1, 1, 2, 1)


def test_a_single_run_backfill_syncs_every_partition_of_a_marketplace_in_order(setup):
    simulator, instance, resources = setup
    simulator.world.create_order(lines=[PHONE], state=1)

    result = materialize(
        [marketplace_orders],
        instance=instance,
        resources=resources,
        tags={
            ASSET_PARTITION_RANGE_START_TAG: "backmarket-fr|new",
            ASSET_PARTITION_RANGE_END_TAG: "backmarket-fr|incomplete",
        },
    )

    assert result.success
    materialized = {
        e.partition for e in result.get_asset_materialization_events() if e.asset_key == AssetKey("marketplace_orders")
    }
    assert materialized == {f"backmarket-fr|{t}" for t in ("new", "modified", "care", "incomplete")}
    metadata = result.get_asset_materialization_events()[0].step_materialization_data.materialization.metadata
    synced = [(p["sync_type"], p["created"]) for p in metadata["partitions"].value]
    assert synced == [("new", 1), ("modified", 0), ("care", 0), ("incomplete", 0)]


def test_a_passing_failure_is_retried_with_backoff_and_refused_credentials_are_not(setup, monkeypatch):
    simulator, instance, resources = setup
    config = {"ops": {"marketplace_orders": {"config": {"retries": 2, "retry_wait_seconds": 0.05}}}}
    key = orders_partition_key("backmarket-fr", "new")

    def attempts() -> int:
        result = materialize(
            [marketplace_orders],
            partition_key=key,
            instance=instance,
            resources=resources,
            run_config=config,
            raise_on_error=False,
        )
        assert not result.success
        return 1 + sum(1 for e in result.all_events if e.event_type_value == "STEP_RESTARTED")

    monkeypatch.setenv("BM_FR_TOKEN", "a-wrong-token")
    assert attempts() == 1  # refused credentials: trying again would not help
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    simulator.stop()  # unreachable: worth trying again
    assert attempts() == 3
