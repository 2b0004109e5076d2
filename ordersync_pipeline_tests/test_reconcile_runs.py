"""Reconciliation where an operator meets it: ``ordersync stock reconcile``, the demo, and the Dagster
asset ``listing_reconciliation`` with its check ``listings_in_line``."""

from __future__ import annotations

import pytest
from dagster import AssetCheckSeverity, AssetKey, DagsterInstance, IntMetadataValue, RunConfig

from ordersync_pipeline import stock
from ordersync_pipeline.cli import main
from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.stock.reconcile import ReconcileConfig
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator, catalog
from ordersync_pipeline_tests.sync_helpers import TOKEN

NUMBERS = ("listings_read", "in_line", "drifted", "corrected", "pending", "unknown", "missing", "drift_units")


@pytest.fixture
def simulator():
    with BackMarketSimulator(tokens={TOKEN}, seed=5, orders=0, port=0) as sim:
        yield sim


@pytest.fixture
def user_env(db_url, simulator, tmp_path, monkeypatch):
    """The database, a marketplace file naming the token variable, a Dagster home; the stock
    imported from the simulator's catalogue and pushed."""
    config = tmp_path / "marketplaces.yaml"
    config.write_text(
        "marketplaces:\n"
        "  - code: backmarket-fr\n"
        "    kind: backmarket\n"
        f"    base_url: {simulator.url}\n"
        "    token_env: BM_FR_TOKEN\n"
        "    settings: {rate_limit: null, catalog_rate_limit: null, max_retries: 1, backoff_factor: 0}\n"
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("ORDERSYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("ORDERSYNC_DATABASE_URL", db_url)
    monkeypatch.setenv("ORDERSYNC_CONFIG", str(config))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    database = OrdersyncDatabase(url=db_url, config_path=str(config))
    stock.seed_stock(database.engine(), simulator.world.catalogue())
    stock.push_stock(database.engine(), adapter_for)
    return database


def test_the_command_prints_what_it_found_and_did(user_env, simulator, capsys):
    first, second = (x["sku"] for x in simulator.world.catalogue()[:2])
    simulator.world.set_listing_quantity(first, 0)
    catalog.delete_listing(simulator.world, second)

    assert main(["stock", "reconcile", "--marketplace", "backmarket-fr"]) == 0

    out = capsys.readouterr().out
    assert "Reconciliation" in out and "dry run" not in out
    assert "raised" in out and first in out
    assert "missing there" in out and second in out
    assert simulator.world.listing_quantity(first) > 0


def test_a_dry_run_says_what_it_would_do_and_changes_nothing(user_env, simulator, capsys):
    sku = simulator.world.catalogue()[0]["sku"]
    simulator.world.set_listing_quantity(sku, 99)
    pushes = len(simulator.world.pushes)

    assert main(["stock", "reconcile", "--dry-run"]) == 0

    out = capsys.readouterr().out
    assert "dry run" in out and "would lower" in out and sku in out
    assert simulator.world.pushes[pushes:] == [] and simulator.world.listing_quantity(sku) == 99


def test_an_unknown_marketplace_is_one_line(user_env, capsys):
    assert main(["stock", "reconcile", "--marketplace", "nowhere-1"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: no marketplace with id or code 'nowhere-1'"


def test_the_asset_counts_as_numbers_and_its_check_names_listings_still_drifted(user_env, simulator):
    world = simulator.world
    stuck, fixed = world.catalogue()[0], world.catalogue()[1]
    world.set_listing_quantity(stuck["sku"], 0)
    catalog.ignore_pushes(world, stuck["sku"], times=5)  # every push answered, none applied
    world.set_listing_quantity(fixed["sku"], fixed["quantity"] + 4)
    catalog.create_listing(world, "HAND-7", 3, "Made by hand")

    result = defs.resolve_job_def("reconcile_listings").execute_in_process(
        instance=DagsterInstance.ephemeral(),
        resources={"database": user_env, "reports": lambda _r: None},
        run_config=RunConfig(ops={"listing_reconciliation": ReconcileConfig()}),
    )

    (materialization,) = result.asset_materializations_for_node("listing_reconciliation")
    metadata = materialization.metadata
    assert all(isinstance(metadata[name], IntMetadataValue) for name in NUMBERS)
    counts = {name: metadata[name].value for name in NUMBERS}
    assert counts == {
        "listings_read": 13,
        "in_line": 10,
        "drifted": 2,
        "corrected": 1,
        "pending": 0,
        "unknown": 1,
        "missing": 0,
        "drift_units": stuck["quantity"] + 4,
    }
    assert "HAND-7" in metadata["unknown_here"].value and "Made by hand" in metadata["unknown_here"].value
    (check,) = result.get_asset_check_evaluations()
    assert check.asset_key == AssetKey("listing_reconciliation") and check.check_name == "listings_in_line"
    assert not check.passed and check.severity == AssetCheckSeverity.WARN
    assert stuck["sku"] in check.description and "pushed, not applied" in check.description
    assert fixed["sku"] not in check.description
    assert check.metadata["still_drifted"].value == 1


def test_the_demo_ends_with_a_reconciliation_recorded_in_the_instance(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORDERSYNC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("ORDERSYNC_DATABASE_URL", raising=False)
    monkeypatch.delenv("ORDERSYNC_CONFIG", raising=False)

    assert main(["demo", "--free-ports", "--steps", "1", "--orders", "5"]) == 0

    out = capsys.readouterr().out
    assert "Reconciliation" in out and "DEMO-HANDMADE-1" in out and "unknown here" in out
    with DagsterInstance.from_config(str(tmp_path / "data" / "dagster_home")) as instance:
        event = instance.get_latest_materialization_event(AssetKey("listing_reconciliation"))
    metadata = event.asset_materialization.metadata
    # Two listings edited on each marketplace, one made by hand on Back Market: 12 + 13 read.
    assert {name: metadata[name].value for name in ("listings_read", "drifted", "corrected", "unknown")} == {
        "listings_read": 25,
        "drifted": 4,
        "corrected": 4,
        "unknown": 1,
    }
