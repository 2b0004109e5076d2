"""Tokens never reach a log, run metadata, an error row or the terminal, even when runs go wrong."""

from __future__ import annotations

import logging

from dagster import DagsterInstance, RunsFilter
from sqlalchemy import select

from ordersync_pipeline.cli import main
from ordersync_pipeline.db import tables
from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline_tests.marketplace_drivers import DRIVERS

BM_TOKEN = "bm-secret-7d41e0c9"
RB_TOKEN = "rb-secret-19aa3f52"
WRONG = "wrong-secret-55c0d1"
PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}


def test_no_token_in_logs_metadata_errors_or_output_of_runs_with_faults(db_url, tmp_path, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    bm, rb = DRIVERS["backmarket"], DRIVERS["refurbed"]
    with (
        bm.simulator(BM_TOKEN, seed=4, rate_limit=(10, 1.0)) as bm_sim,
        rb.simulator(RB_TOKEN, seed=4) as rb_sim,
        bm.simulator(BM_TOKEN, seed=5) as refusing_sim,
    ):
        for sim, driver in ((bm_sim, bm), (rb_sim, rb)):
            for _ in range(8):
                driver.paid_order(sim.world, [PHONE])
        bad = bm.paid_order(bm_sim.world, [PHONE])
        bm.corrupt_price(bm_sim.world, bad)
        rb_sim.faults.configure(fail_next=2)  # two 503s, ridden out by retries
        config = tmp_path / "marketplaces.yaml"
        config.write_text(
            "marketplaces:\n"
            f"  - {{code: bm-fr, kind: backmarket, base_url: '{bm_sim.url}', token_env: T_BM}}\n"
            f"  - {{code: rb-de, kind: refurbed, base_url: '{rb_sim.url}', token_env: T_RB}}\n"
            f"  - {{code: bm-es, kind: backmarket, base_url: '{refusing_sim.url}', token_env: T_WRONG}}\n"
        )
        home = tmp_path / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
        for name, value in {
            "ORDERSYNC_DATABASE_URL": db_url,
            "ORDERSYNC_CONFIG": str(config),
            "DAGSTER_HOME": str(home),
            "T_BM": BM_TOKEN,
            "T_RB": RB_TOKEN,
            "T_WRONG": WRONG,
        }.items():
            monkeypatch.setenv(name, value)

        assert main(["-v", "sync", "--marketplace", "bm-fr"]) == 0
        assert main(["-v", "sync", "--marketplace", "rb-de"]) == 0
        assert main(["-v", "sync", "--marketplace", "bm-es", "--type", "new"]) == 1  # refused

    seen = [capsys.readouterr(), caplog.text]
    with DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(RunsFilter())
        assert len(runs) >= 3
        for run in runs:
            for entry in instance.all_logs(run.run_id):
                seen.append(entry.user_message)
                seen.append(repr(entry.dagster_event))
    engine = make_engine(db_url)
    with engine.connect() as conn:
        errors = conn.execute(select(tables.sync_errors)).all()
        seen.extend(repr(row) for row in errors)
        seen.extend(repr(row) for row in conn.execute(select(tables.marketplaces)))
    engine.dispose()

    assert errors, "the corrupted order should have left an error row"
    text = "\n".join(str(item) for item in seen)
    assert "401" in text  # the refused marketplace is reported...
    for token in (BM_TOKEN, RB_TOKEN, WRONG):
        assert token not in text  # ...and no token anywhere
