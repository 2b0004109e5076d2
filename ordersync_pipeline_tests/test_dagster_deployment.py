"""The production setup, for real: dagster-daemon and dagster-webserver on the repository's
``dagster.yaml`` (Postgres storage) and ``workspace.yaml``, with the simulator behind the marketplace.

One test walks it all, because starting the two servers is the slow part: a schedule ticks and its
run succeeds; the incomplete-orders sensor sees an order without its label and its run fills it; a
backfill of every partition of the marketplace, launched through the webserver's GraphQL API,
completes in one tagged run per partition; two runs of one partition launched at once never run
side by side. Everything is read back from the instance, and everything started is stopped.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster_graphql import DagsterGraphQLClient
from sqlalchemy import select

from ordersync_pipeline.db import tables
from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline_tests.conftest import _create_postgres_database, _drop_postgres_database
from ordersync_pipeline_tests.sync_helpers import TOKEN

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}
PARTITIONS = [f"backmarket-fr|{t}" for t in ("new", "modified", "care", "incomplete")]
#: the statuses of a backfill that is over, by name: their enum is not part of Dagster's public API
BACKFILL_ENDED = ("COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED")

BACKFILL = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
  }
}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, condition, timeout: float = 300.0, every: float = 1.0):
    """Wait for ``condition`` to hold; the bound only tells a daemon that stopped working from a slow one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    """Postgres for Dagster, SQLite for the order book, the simulator, then daemon and webserver."""
    dagster_db = _create_postgres_database()
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_db)  # this process reads the same instance
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    processes: list[subprocess.Popen] = []
    with BackMarketSimulator(tokens={TOKEN}, seed=21, orders=0, latency=0.3) as simulator:
        config = tmp_path / "marketplaces.yaml"
        config.write_text(
            "marketplaces:\n"
            f"  - {{code: backmarket-fr, kind: backmarket, base_url: '{simulator.url}', token_env: BM_FR_TOKEN}}\n"
        )
        order_book = f"sqlite:///{tmp_path / 'ordersync.db'}"
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "DAGSTER_PG_URL": dagster_db,
            "ORDERSYNC_DATABASE_URL": order_book,
            "ORDERSYNC_CONFIG": str(config),
            "BM_FR_TOKEN": TOKEN,
            # Every minute instead of every five, and a sensor that looks every few seconds.
            "ORDERSYNC_NEW_CRON": "* * * * *",
            "ORDERSYNC_INCOMPLETE_SENSOR_SECONDS": "5",
        }
        for name in ("MODIFIED", "CARE", "INCOMPLETE"):  # ticks far away, so that only ours run
            env[f"ORDERSYNC_{name}_CRON"] = "0 0 1 1 *"
        port = _free_port()
        log = (tmp_path / "servers.log").open("w")
        try:
            for command in (
                [BIN / "dagster-daemon", "run", "-w", "workspace.yaml"],
                [BIN / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
            ):
                processes.append(
                    subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=log, start_new_session=True)
                )
            _wait("the webserver", lambda: _answers(f"http://127.0.0.1:{port}/server_info"), timeout=90)
            instance = DagsterInstance.from_config(str(home))
            yield simulator, instance, DagsterGraphQLClient("127.0.0.1", port_number=port), order_book
            instance.dispose()
        finally:
            for process in processes:
                os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=30)
                # Whatever is left of the group (a code server slow to stop) goes too.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            log.close()
            _drop_postgres_database(dagster_db)


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def _runs(instance: DagsterInstance, **tags) -> list:
    return instance.get_runs(RunsFilter(tags=tags))


def _finished(instance, run_ids) -> list:
    runs = [instance.get_run_by_id(run_id) for run_id in run_ids]
    return runs if all(r.is_finished for r in runs) else []


# Four steps, each waiting on the daemon with a bound of its own: together they may take longer than
# the suite's per-test bound on a loaded machine.
@pytest.mark.timeout(1800)
def test_schedule_sensor_backfill_and_queue_on_a_real_daemon_and_webserver(deployment):
    simulator, instance, client, order_book = deployment
    order = simulator.world.create_order(lines=[PHONE], state=1)
    simulator.world.set_documents(order, delivery_note=True, label=True)

    # 1. The new schedule ticks (every minute here) and its run syncs the order.
    scheduled = _wait(
        "a scheduled new sync",
        lambda: [
            r
            for r in _runs(instance, **{"dagster/schedule_name": "sync_new_schedule"})
            if r.status == DagsterRunStatus.SUCCESS
        ],
    )
    assert scheduled[0].tags["dagster/partition"] == "backmarket-fr|new"
    engine = make_engine(order_book)
    with engine.connect() as conn:
        stored = conn.execute(select(tables.orders).where(tables.orders.c.reference == str(order))).one()
    assert stored.status == "accepted" and stored.label_url is None  # labels come from deliveries

    # 2. The sensor sees the order without its label; its incomplete run fetches it.
    sensed = _wait(
        "an incomplete run from the sensor",
        lambda: [
            r
            for r in _runs(instance, **{"dagster/sensor_name": "incomplete_orders_sensor"})
            if r.status == DagsterRunStatus.SUCCESS
        ],
    )
    assert sensed[0].tags["dagster/partition"] == "backmarket-fr|incomplete"
    with engine.connect() as conn:
        label = conn.execute(select(tables.orders.c.label_url).where(tables.orders.c.reference == str(order))).scalar()
    assert label and label.endswith(".pdf")

    # 3. A backfill of every partition of the marketplace, through the GraphQL API.
    answer = client._execute(
        BACKFILL,
        {"params": {"assetSelection": [{"path": ["marketplace_orders"]}], "partitionNames": PARTITIONS}},
    )["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    backfill_id = answer["backfillId"]
    # One run per partition, two at a time (the instance's run limits).
    backfill = _wait(
        "the backfill",
        lambda: (b := instance.get_backfill(backfill_id)).status.value in BACKFILL_ENDED and b,
        timeout=150.0 * len(PARTITIONS),
    )
    assert backfill.status.value == "COMPLETED_SUCCESS"
    backfill_runs = _runs(instance, **{"dagster/backfill": backfill_id})
    assert backfill_runs and all(r.status == DagsterRunStatus.SUCCESS for r in backfill_runs)
    # One run per partition, each tagged as the instance's run limits expect.
    assert sorted(r.tags["dagster/partition"] for r in backfill_runs) == sorted(PARTITIONS)
    assert {r.tags["dagster/partition/marketplace"] for r in backfill_runs} == {"backmarket-fr"}

    # 4. Two runs of one partition launched at once: the second waits until the first is done.
    tags = {
        "dagster/partition": "backmarket-fr|modified",
        "dagster/partition/marketplace": "backmarket-fr",
        "dagster/partition/sync_type": "modified",
    }
    run_ids = [client.submit_job_execution("sync_orders", tags=tags) for _ in range(2)]
    first, second = _wait("both queued runs", lambda: _finished(instance, run_ids))
    assert first.status == second.status == DagsterRunStatus.SUCCESS
    spans = sorted(
        (instance.get_run_record_by_id(r.run_id).start_time, instance.get_run_record_by_id(r.run_id).end_time)
        for r in (first, second)
    )
    assert spans[0][1] <= spans[1][0], f"the runs overlapped: {spans}"
    engine.dispose()
