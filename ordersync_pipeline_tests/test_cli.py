"""The ``ordersync`` command, run as a user runs it, through the Dagster assets and instance."""

from __future__ import annotations

from datetime import datetime

import pydantic
import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import func, select

from ordersync_pipeline.cli import build_parser, main
from ordersync_pipeline.db import tables
from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.defs.orders.assets import SyncConfig
from ordersync_pipeline.marketplaces.backmarket.adapter import BackMarketAdapter
from ordersync_pipeline.marketplaces.refurbed.adapter import RefurbedAdapter
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.sync.options import PAGE_SIZE
from ordersync_pipeline_tests.sync_helpers import TOKEN

PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}


@pytest.fixture
def simulator():
    with BackMarketSimulator(tokens={TOKEN}, seed=5, orders=0, port=0) as sim:
        yield sim


@pytest.fixture
def user_env(db_url, simulator, tmp_path, monkeypatch):
    """What a user sets: the database, a marketplace file naming the token variable, a Dagster home."""
    config = tmp_path / "marketplaces.yaml"
    config.write_text(
        "marketplaces:\n"
        "  - code: backmarket-fr\n"
        "    kind: backmarket\n"
        f"    base_url: {simulator.url}\n"
        "    token_env: BM_FR_TOKEN\n"
    )
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("ORDERSYNC_DATABASE_URL", db_url)
    monkeypatch.setenv("ORDERSYNC_CONFIG", str(config))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    return home


def test_sync_runs_the_assets_records_the_runs_and_prints_a_summary(user_env, simulator, db_url, capsys):
    for _ in range(3):
        simulator.world.create_order(lines=[PHONE], state=1)

    assert main(["sync", "--type", "new", "--marketplace", "1"]) == 0

    out = capsys.readouterr().out
    assert "backmarket-fr" in out and "new" in out
    # No stock was imported: every unit sold is an oversell, and the check says so.
    assert "Stock: events applied 6, locks taken 0, consumed 0, released 0, short 3" in out
    assert "check no_oversell failed" in out and "order 100001" in out
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(tables.orders)).scalar() == 3
    engine.dispose()
    with DagsterInstance.from_config(str(user_env)) as instance:
        runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
        assert [r.tags.get("dagster/partition") for r in reversed(runs)] == ["backmarket-fr|new", None]
        for asset in ("stock_locks", "stock_push"):
            assert instance.get_latest_materialization_event(AssetKey(asset)).run_id == runs[0].run_id


def test_a_page_size_back_market_cannot_honour_is_fitted_to_its_most_and_said(user_env, simulator, capsys):
    simulator.world.create_order(lines=[PHONE], state=1)

    # The simulator refuses a page of more than 50, as Back Market does: the sync asks for 50.
    assert main(["sync", "--type", "new", "--marketplace", "1", "--page-size", "100", "--no-stock"]) == 0

    out = capsys.readouterr().out
    assert "takes at most 50 orders a page: 50 asked, not 100" in " ".join(out.split())


def test_the_command_line_and_the_run_config_take_the_same_page_sizes():
    with pytest.raises(pydantic.ValidationError):
        SyncConfig(page_size=PAGE_SIZE.high + 1)
    assert SyncConfig(page_size=PAGE_SIZE.high).page_size == PAGE_SIZE.high
    args = build_parser().parse_args(["sync", "--page-size", str(PAGE_SIZE.high)])
    assert (args.page_size, SyncConfig().page_size, build_parser().parse_args(["sync"]).page_size) == (
        PAGE_SIZE.high,
        PAGE_SIZE.default,
        PAGE_SIZE.default,
    )
    assert (BackMarketAdapter.page_size(PAGE_SIZE.high), RefurbedAdapter.page_size(PAGE_SIZE.high)) == (50, 100)


def test_sync_all_runs_the_four_types_in_order(user_env, simulator, capsys):
    simulator.world.create_order(lines=[PHONE], state=1)
    assert main(["sync", "--no-stock"]) == 0
    with DagsterInstance.from_config(str(user_env)) as instance:
        runs = instance.get_runs(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
        partitions = [r.tags["dagster/partition"] for r in reversed(runs)]
    assert partitions == [f"backmarket-fr|{t}" for t in ("new", "modified", "care", "incomplete")]


def test_a_bad_token_exits_1_with_one_line_that_does_not_contain_it(user_env, monkeypatch, capsys):
    wrong = "not-the-token-73c1"
    monkeypatch.setenv("BM_FR_TOKEN", wrong)

    assert main(["sync", "--type", "new"]) == 1

    captured = capsys.readouterr()
    assert wrong not in captured.out + captured.err
    message = captured.err.strip()
    assert message.startswith("error:") and "backmarket-fr" in message and "401" in message


def test_an_unreachable_marketplace_exits_1(user_env, simulator, capsys):
    simulator.stop()
    assert main(["sync", "--type", "modified"]) == 1
    assert "backmarket-fr" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv, complaint",
    [
        (["sync", "--type", "everything"], "invalid choice"),
        (["sync", "--page-size", "0"], "outside 1..100"),
        (["sync", "--page-size", "101"], "outside 1..100"),
        (["sync", "--days-back", "two"], "not a whole number"),
    ],
)
def test_bad_options_are_refused_with_a_reason(argv, complaint, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 1
    assert complaint in capsys.readouterr().err


def test_an_unknown_marketplace_exits_1(user_env, capsys):
    assert main(["sync", "--marketplace", "refurbed-de"]) == 1
    assert "refurbed-de" in capsys.readouterr().err


def test_no_stock_leaves_the_events_pending(user_env, simulator, tmp_path, capsys):
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,on_hand,listing:backmarket-fr\nIPH13-128-BLK-A,4,4001\n")
    assert main(["stock", "import", str(stock)]) == 0
    simulator.world.create_order(lines=[PHONE], state=1)
    assert main(["sync", "--type", "new", "--no-stock"]) == 0
    assert "Stock:" not in capsys.readouterr().out

    assert main(["stock", "apply"]) == 0
    assert "events applied 2, locks taken 1" in capsys.readouterr().out


def test_stock_import_sets_on_hand_and_names_bad_lines(user_env, db_url, tmp_path, capsys):
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,on_hand,listing:backmarket-fr\nIPH13-128-BLK-A,4,4001\nPIX7-128-WHT-A,minus one,4007\n")

    assert main(["stock", "import", str(stock)]) == 1

    captured = capsys.readouterr()
    assert "Imported 1 SKUs and 1 listings" in captured.out
    assert f"{stock}: line 3" in captured.err and "on_hand" in captured.err
    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(tables.inventory.c.sku, tables.inventory.c.on_hand)).all() == [
            ("IPH13-128-BLK-A", 4)
        ]
    engine.dispose()


def test_stock_import_takes_the_count_time_and_refuses_one_it_cannot_read(user_env, db_url, tmp_path, capsys):
    stock = tmp_path / "stock.csv"
    stock.write_text("sku,on_hand,listing:backmarket-fr\nIPH13-128-BLK-A,4,4001\n")
    with pytest.raises(SystemExit) as bad:
        main(["stock", "import", str(stock), "--counted-at", "yesterday evening"])
    assert bad.value.code == 1 and "'yesterday evening' is not an ISO 8601 time" in capsys.readouterr().err
    assert main(["stock", "import", str(stock), "--counted-at", "2099-01-01T00:00Z"]) == 1
    assert "is in the future" in capsys.readouterr().err

    assert main(["stock", "import", str(stock), "--counted-at", "2026-11-30T18:30+01:00"]) == 0

    engine = make_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(select(tables.inventory.c.on_hand, tables.inventory.c.counted_at)).all() == [
            (4, datetime(2026, 11, 30, 17, 30))
        ]
    engine.dispose()
