"""The Dagster code location: it loads, and its jobs sync partitions recorded in a real instance,
each partition with its own figures."""

from __future__ import annotations

import pytest
from dagster import AssetKey, DagsterRunStatus, Definitions, instance_for_test

from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.orders.assets import SyncConfig
from ordersync_pipeline.defs.partitions import orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase, log_progress
from ordersync_pipeline.launch import Launcher
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.sync.report import SyncReport
from ordersync_pipeline_tests.sync_helpers import TOKEN

PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}
SHIPPED = 3  # a Back Market orderline state the new sync does not list
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
MARKETPLACE_ORDERS = AssetKey("marketplace_orders")


def test_definitions_load():
    Definitions.validate_loadable(defs)
    assert defs.resolve_assets_def("marketplace_orders").partitions_def is not None


@pytest.fixture
def setup(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    monkeypatch.setenv("RF_DE_TOKEN", TOKEN)
    with BackMarketSimulator(tokens={TOKEN}, seed=11, orders=0, port=0) as simulator:
        config = tmp_path / "marketplaces.yaml"
        config.write_text(
            "marketplaces:\n"
            "  - {code: backmarket-fr, kind: backmarket, base_url: '" + simulator.url + "', token_env: BM_FR_TOKEN,\n"
            "     settings: {max_retries: 1, backoff_factor: 0.01}}\n"
            # Refurbed has no care records; its care sync never reaches the marketplace.
            "  - {code: refurbed-de, kind: refurbed, base_url: 'http://127.0.0.1:9', token_env: RF_DE_TOKEN}\n"
        )
        with instance_for_test() as instance:
            instance.add_dynamic_partitions("marketplace", ["backmarket-fr", "refurbed-de"])
            reports: list[SyncReport] = []
            resources = {
                "database": OrdersyncDatabase(url=db_url, config_path=str(config)),
                "progress": log_progress,
                "reports": reports.append,
            }
            yield simulator, instance, resources, reports


def _materializations(instance, partition: str) -> list[dict]:
    records = instance.fetch_materializations(MARKETPLACE_ORDERS, limit=100).records
    return [
        {k: v.value for k, v in r.asset_materialization.metadata.items()}
        for r in records
        if r.asset_materialization.partition == partition
    ]


def _figures(report: SyncReport) -> dict:
    return {k: getattr(report, k) for k in ("fetched", "created", "updated", "unchanged", "events", "accepted")}


def test_a_partition_run_is_a_sync_orders_run_with_the_partition_tags_and_its_report_as_metadata(setup):
    simulator, instance, resources, _ = setup
    simulator.world.create_order(lines=[PHONE], state=1)

    result = defs.resolve_job_def("sync_orders").execute_in_process(
        instance=instance, partition_key=str(orders_partition_key("backmarket-fr", "new")), resources=resources
    )

    assert result.success
    run = result.dagster_run
    assert run.job_name == "sync_orders"
    assert run.tags["dagster/partition"] == "backmarket-fr|new"
    assert run.tags["dagster/partition/marketplace"] == "backmarket-fr"
    (metadata,) = _materializations(instance, "backmarket-fr|new")
    assert (metadata["fetched"], metadata["created"], metadata["events"], metadata["accepted"]) == (1, 1, 2, 1)


def test_a_run_of_several_partitions_records_each_partitions_own_figures(setup):
    simulator, instance, resources, reports = setup
    simulator.world.create_order(lines=[PHONE], state=1)  # waiting: the new sync and the modified one see it
    for _ in range(3):  # already shipped: only the modified sync sees these
        simulator.world.create_order(lines=[PHONE], state=SHIPPED)

    result = defs.resolve_job_def("sync_all").execute_in_process(
        instance=instance,
        resources=resources,
        tags={RANGE_START: "backmarket-fr|new", RANGE_END: "backmarket-fr|modified"},
    )

    assert result.success
    by_type = {r.sync_type: r for r in reports}
    assert [r.sync_type for r in reports] == ["new", "modified"]  # in sync order
    assert by_type["new"].fetched == 1 and by_type["modified"].fetched == 4
    for sync_type, report in by_type.items():
        (metadata,) = _materializations(instance, f"backmarket-fr|{sync_type}")
        assert {k: metadata[k] for k in _figures(report)} == _figures(report), sync_type
    (modified,) = _materializations(instance, "backmarket-fr|modified")
    assert modified["cursor"] > 0  # a timestamp: the end of the window synced


def test_a_sync_the_marketplace_does_not_have_is_not_materialized(setup):
    _, instance, resources, reports = setup

    result = defs.resolve_job_def("sync_orders").execute_in_process(
        instance=instance, partition_key=str(orders_partition_key("refurbed-de", "care")), resources=resources
    )

    assert result.success
    assert [r.supported for r in reports] == [False]
    assert _materializations(instance, "refurbed-de|care") == []
    assert "refurbed-de|care" not in instance.get_materialized_partitions(MARKETPLACE_ORDERS)


def test_the_command_lines_runs_are_job_runs_with_their_partition(setup):
    simulator, instance, resources, _ = setup
    simulator.world.create_order(lines=[PHONE], state=1)
    launcher = Launcher(instance, resources["database"])

    report = launcher.sync("backmarket-fr", "new", SyncConfig(retries=0), log_progress)
    launcher.stock()

    assert report.created == 1
    runs = {r.job_name: r for r in instance.get_runs()}
    assert set(runs) == {"sync_orders", "update_stock"}
    assert runs["sync_orders"].tags["dagster/partition"] == "backmarket-fr|new"
    assert runs["sync_orders"].tags["dagster/partition/marketplace"] == "backmarket-fr"
    assert all(r.status == DagsterRunStatus.SUCCESS for r in runs.values())


def test_a_passing_failure_is_retried_with_backoff_and_refused_credentials_are_not(setup, monkeypatch):
    simulator, instance, resources, _ = setup
    config = {"ops": {"marketplace_orders": {"config": {"retries": 2, "retry_wait_seconds": 0.05}}}}
    key = str(orders_partition_key("backmarket-fr", "new"))

    def attempts() -> int:
        result = defs.resolve_job_def("sync_orders").execute_in_process(
            instance=instance, partition_key=key, resources=resources, run_config=config, raise_on_error=False
        )
        assert not result.success
        return 1 + sum(1 for e in result.all_events if e.event_type_value == "STEP_RESTARTED")

    monkeypatch.setenv("BM_FR_TOKEN", "a-wrong-token")
    assert attempts() == 1  # refused credentials: trying again would not help
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    simulator.stop()  # unreachable: worth trying again
    assert attempts() == 3


def test_the_stock_assets_automation_is_labelled_for_what_it_does_not_eager():
    for name in ("stock_locks", "stock_push"):
        assets_def = defs.resolve_assets_def(name)
        condition = assets_def.automation_conditions_by_key[assets_def.key]
        assert condition.get_label() == "after any upstream update"
