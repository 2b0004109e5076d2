"""Several hosts, for real: the deployment in ``deployment/celery/`` with RabbitMQ, a Postgres-backed
Dagster instance, and two Celery workers, each with a Dagster home and a data folder of its own as
two machines would have, sharing only the databases and the broker.

A backfill of every partition of three marketplaces (Back Market France and Germany, two
marketplaces of one seller account, and Refurbed) runs on both workers; the Back Market simulator
refuses more than the account's budget, which its syncs on the two workers keep only by sharing it
in Postgres; one worker is killed with SIGKILL in the middle of a sync; its run is launched again
and the backfill completes. Then the stock is
applied and pushed and the chaos benchmark's invariants hold, and the order book equals what one
clean sync of the same marketplaces leaves.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import requests
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster_celery.tags import DAGSTER_CELERY_TASK_ID_TAG
from dagster_graphql import DagsterGraphQLClient
from sqlalchemy import func, select

from benchmarks.chaos_checks import invariant_violations
from ordersync_pipeline import stock
from ordersync_pipeline.db import tables
from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.marketplaces.registry import (
    adapter_class,
    adapter_for,
    find_marketplace,
    load_config,
    upsert_marketplaces,
)
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator
from ordersync_pipeline.sync.runner import MarketplaceRef, SyncOptions, run_sync
from ordersync_pipeline_tests.conftest import _create_postgres_database, _drop_postgres_database, _migrated
from ordersync_pipeline_tests.test_dagster_deployment import BACKFILL, _answers, _free_port, _wait

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
BROKER = "pyamqp://guest:guest@127.0.0.1:5672/{vhost}"
# Each account is paced at 5 requests a second, and its simulator refuses an 8th within a second:
# a little room for a request that reaches it late on a loaded machine, none for two hosts that
# would each take 5 a second.
BUDGET = (5, 1.0)
ENFORCED = (7, 1.0)
SYNC_TYPES = {
    "backmarket": ("new", "modified", "care", "incomplete"),
    "refurbed": ("new", "modified", "care", "incomplete"),
}
MARKETPLACES = {"backmarket-fr": "backmarket", "backmarket-de": "backmarket", "refurbed-de": "refurbed"}
TOKENS = {"backmarket": "bm-account-token", "refurbed": "rf-account-token"}
LISTED_ON = ("backmarket-fr", "refurbed-de")  # the account's listings are one set, pushed once
SETTINGS = {
    "rate_limit": list(BUDGET),
    "rate_limit_store": "postgres",  # the order book's database, shared by both workers
    "concurrency": 4,
    "backoff_factor": 0.05,
    "backoff_max": 0.5,
}


class Marketplace:
    """A simulator as the chaos benchmark's checks read it: kind, URL, token, control endpoint."""

    def __init__(self, kind: str, simulator: Any, token: str) -> None:
        self.kind, self.simulator, self.token, self.url = kind, simulator, token, simulator.url

    def control(self, method: str, path: str, body: dict | None = None) -> Any:
        answer = requests.request(method, f"{self.url}/_sim/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()


@contextlib.contextmanager
def simulators(seed: int, latency: float):
    """One Back Market seller account that sells in France and Germany (two marketplaces, one
    token, one budget: its runs on the two workers must share it), and one Refurbed account."""
    backmarket = BackMarketSimulator(
        tokens={TOKENS["backmarket"]}, seed=seed, orders=240, latency=latency, arrivals_per_hour=0
    )
    refurbed = RefurbedSimulator(
        tokens={TOKENS["refurbed"]}, seed=seed + 1, orders=60, latency=0.2, arrivals_per_hour=0
    )
    with backmarket, refurbed:
        found = {}
        for code, kind in MARKETPLACES.items():
            found[code] = Marketplace(kind, backmarket if kind == "backmarket" else refurbed, TOKENS[kind])
        backmarket.faults.configure(rate_limit=list(ENFORCED))
        yield found


def write_config(path: Path, sims: dict[str, Marketplace], paced: bool = True) -> dict[str, str]:
    lines = ["marketplaces:"]
    env = {}
    for code, sim in sims.items():
        variable = code.upper().replace("-", "_") + "_TOKEN"
        settings = SETTINGS if sim.kind == "backmarket" else {"backoff_factor": 0.05}
        if not paced:
            settings = settings | {"rate_limit": None}
        entry = {"code": code, "kind": sim.kind, "base_url": sim.url, "token_env": variable, "settings": settings}
        lines.append(f"  - {json.dumps(entry)}")
        env[variable] = sim.token
    path.write_text("\n".join(lines) + "\n")
    return env


def seed_stock(url: str, sims: dict[str, Marketplace]) -> None:
    """One stock for every account, enough that no line waits for a unit (which lines would wait
    depends on the order the syncs ran in); each lists the SKUs it sells under its own references."""
    engine = make_engine(url)
    rows: dict[str, dict] = {}
    for code in LISTED_ON:
        for listing in sims[code].simulator.world.catalogue():
            row = rows.setdefault(listing["sku"], {"sku": listing["sku"], "on_hand": 1000, "listings": {}})
            row["listings"][code] = str(listing.get("listing_id") or listing.get("offer_id"))
    stock.seed_stock(engine, list(rows.values()))
    engine.dispose()


def _start(command: list, env: dict, log: Path, cwd: Path = REPO) -> subprocess.Popen:
    with log.open("a") as out:
        return subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=out, start_new_session=True)


def _stop(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=20)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


@contextlib.contextmanager
def broker_vhost():
    """A RabbitMQ virtual host of the test's own: nothing another run left reaches its workers, and
    nothing of its own (queues, messages) stays behind."""
    vhost = f"ordersync-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    try:
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            capture_output=True,
        )
        yield BROKER.format(vhost=vhost)
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)


def _broker_up() -> bool:
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", 5672)) == 0


def tasks_by_worker(logs: dict[str, Path]) -> dict[str, set[str]]:
    """The Celery task ids each worker received, from its own log."""
    received = re.compile(r"Task execute_job\[([0-9a-f-]+)\] received")
    return {name: set(received.findall(log.read_text())) for name, log in logs.items() if name.startswith("worker")}


@pytest.fixture
def deployment(tmp_path, monkeypatch):
    assert _broker_up(), "RabbitMQ is not reachable on 127.0.0.1:5672 (.ci/run starts it)"
    dagster_db = _create_postgres_database()
    order_book = _migrated(_create_postgres_database())
    monkeypatch.setenv("DAGSTER_PG_URL", dagster_db)
    processes: dict[str, subprocess.Popen] = {}
    with simulators(seed=40, latency=0.25) as sims, broker_vhost() as broker:
        config = tmp_path / "marketplaces.yaml"
        tokens = write_config(config, sims)
        for name, token in tokens.items():
            monkeypatch.setenv(name, token)  # this process pushes the stock at the end
        env = os.environ | tokens
        env |= {
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DAGSTER_PG_URL": dagster_db,
            "ORDERSYNC_CELERY_BROKER": broker,
            "ORDERSYNC_DATABASE_URL": order_book,
            "ORDERSYNC_CONFIG": str(config),
            # The schedules tick far away: only the backfill's runs run.
            **{f"ORDERSYNC_{t}_CRON": "0 0 1 1 *" for t in ("NEW", "MODIFIED", "CARE", "INCOMPLETE")},
        }
        setup = make_engine(order_book)
        upsert_marketplaces(setup, load_config(config))  # as the first run would
        setup.dispose()
        seed_stock(order_book, sims)
        homes = {}
        for host in ("scheduler", "worker-a", "worker-b"):
            homes[host] = tmp_path / host / "dagster_home"
            homes[host].mkdir(parents=True)
            shutil.copy(REPO / "deployment" / "celery" / "dagster.yaml", homes[host] / "dagster.yaml")
        host_env = {
            h: env | {"DAGSTER_HOME": str(homes[h]), "ORDERSYNC_DATA_DIR": str(tmp_path / h / "data")} for h in homes
        }
        logs = {h: tmp_path / f"{h}.log" for h in homes}
        port = _free_port()
        instance = None
        queue = "ordersync-backfill"  # the backfill's runs go to a queue of their own
        try:
            # The instance's tables, made once before the hosts start (as `dagster instance migrate`
            # would): hosts that start together on an empty database would race to make them.
            instance = DagsterInstance.from_config(str(homes["scheduler"]))
            processes["daemon"] = _start(
                [BIN / "dagster-daemon", "run", "-w", "workspace.yaml"], host_env["scheduler"], logs["scheduler"]
            )
            processes["webserver"] = _start(
                [BIN / "dagster-webserver", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                host_env["scheduler"],
                logs["scheduler"],
            )
            for worker in ("worker-a", "worker-b"):
                worker_env = host_env[worker] | {"ORDERSYNC_WORKER_CONCURRENCY": "1"}
                processes[worker] = _start(
                    ["bash", REPO / "deployment" / "celery" / "worker.sh", worker, "ordersync", queue],
                    worker_env,
                    logs[worker],
                )
            for worker in ("worker-a", "worker-b"):
                _wait(f"{worker} ready", lambda w=worker: "ready." in logs[w].read_text())
            _wait("the webserver", lambda: _answers(f"http://127.0.0.1:{port}/server_info"))
            instance.add_dynamic_partitions("marketplace", list(MARKETPLACES))
            client = DagsterGraphQLClient("127.0.0.1", port_number=port)
            yield {
                "sims": sims,
                "instance": instance,
                "client": client,
                "order_book": order_book,
                "processes": processes,
                "logs": logs,
                "queue": queue,
                "config": config,
            }
        finally:
            for process in processes.values():
                _stop(process)
            if instance is not None:
                instance.dispose()
            _drop_postgres_database(order_book)
            _drop_postgres_database(dagster_db)


@pytest.mark.timeout(1800)  # its waits are bounds for a stopped worker, generous for a loaded machine
def test_a_backfill_of_three_marketplaces_runs_on_two_celery_workers_and_survives_losing_one(deployment):
    sims, instance, client = deployment["sims"], deployment["instance"], deployment["client"]
    partitions = [f"{code}|{t}" for code, kind in MARKETPLACES.items() for t in SYNC_TYPES[kind]]
    # A sync its marketplace does not have (Refurbed's care) runs and is not materialized.
    materialized = {
        f"{code}|{t}"
        for code, kind in MARKETPLACES.items()
        for t in SYNC_TYPES[kind]
        if t in adapter_class(kind).supported_sync_types
    }
    answer = client._execute(
        BACKFILL,
        {
            "params": {
                "assetSelection": [{"path": ["marketplace_orders"]}],
                "partitionNames": partitions,
                # A queue of its own: workers started with `-q ordersync-backfill` take it.
                "tags": [{"key": "dagster-celery/queue", "value": deployment["queue"]}],
            }
        },
    )["launchPartitionBackfill"]
    assert answer["__typename"] == "LaunchBackfillSuccess", answer
    backfill_id = answer["backfillId"]

    def runs() -> list:
        return instance.get_runs(RunsFilter(tags={"dagster/backfill": backfill_id}))

    engine = make_engine(deployment["order_book"])

    # Once a worker has a run done, kill it in the middle of the sync of its next run: when that
    # sync has stored orders and is not finished.
    def running_sync():
        by_worker = tasks_by_worker(deployment["logs"])
        done = {run.tags.get(DAGSTER_CELERY_TASK_ID_TAG) for run in runs() if run.status == DagsterRunStatus.SUCCESS}
        for run in runs():
            task = run.tags.get(DAGSTER_CELERY_TASK_ID_TAG)
            if run.status != DagsterRunStatus.STARTED or task in done:
                continue
            span = _sync_span(instance, run)
            for worker, tasks in by_worker.items():
                if task in tasks and tasks & done and span and span[1] is None and _stored(engine, _code(run)):
                    return run, worker
        return None

    killed_run, killed_worker = _wait("a sync running on a worker", running_sync, every=0.3)
    os.killpg(deployment["processes"][killed_worker].pid, signal.SIGKILL)
    killed_at = time.time()
    print(f"killed {killed_worker} in the middle of run {killed_run.run_id} ({_partitions(killed_run)})")

    def finished() -> bool:
        done = [r for r in runs() if r.is_finished]
        synced = _materialized_partitions(instance)
        return materialized <= synced and len(done) == len(runs())

    _wait("every partition materialized", finished, timeout=900, every=2)

    # Which worker ran what: each run's Celery task, found in the worker's own log.
    by_worker = tasks_by_worker(deployment["logs"])
    ran_on: dict[str, list[str]] = {}
    for run in runs():
        workers = [w for w, tasks in by_worker.items() if run.tags.get(DAGSTER_CELERY_TASK_ID_TAG) in tasks]
        print(f"{_partitions(run)}: {run.status.value} on {workers}")
        for worker in workers:
            ran_on.setdefault(worker, []).append(run.run_id)
    succeeded = {r.run_id for r in runs() if r.status == DagsterRunStatus.SUCCESS}
    assert all(set(ran_on[w]) & succeeded for w in ("worker-a", "worker-b")), ran_on

    # Whether two of the account's syncs ran at once on the two workers depends on how the runs
    # fell: shown, not required (test_shared_pacing.py proves two hosts keep one budget).
    spans = []
    for run in runs():
        span = _sync_span(instance, run)
        if span and _code(run).startswith("backmarket"):
            spans.append((span[0], span[1] or killed_at, [w for w in ran_on if run.run_id in ran_on[w]]))
    overlapping = sum(
        max(a[0], b[0]) < min(a[1], b[1]) and a[2] != b[2] for i, a in enumerate(spans) for b in spans[i + 1 :]
    )
    print(f"pairs of the account's syncs that ran at once on both workers: {overlapping}")

    # The killed run failed; its retry, a new run on the worker left, succeeded.
    assert instance.get_run_by_id(killed_run.run_id).status == DagsterRunStatus.FAILURE
    retries = instance.get_runs(RunsFilter(tags={"dagster/parent_run_id": killed_run.run_id}))
    assert [r.status for r in retries] == [DagsterRunStatus.SUCCESS]
    assert retries[0].run_id in ran_on["worker-b" if killed_worker == "worker-a" else "worker-a"]

    # The budget held at every account while both workers sent from it.
    refused = sims["backmarket-fr"].simulator.faults.limited
    assert refused == 0, f"the Back Market account was answered {refused} times with 429"
    sims["backmarket-fr"].simulator.faults.configure(rate_limit=None)  # the checks below read as they like

    # A marketplace's runs ran side by side, in no set order: an order the new sync accepted after
    # the modified sync had read it is read back by the next modified sync, as the next scheduled
    # one would. One such sync of each marketplace here, as the clean run below has in its order.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ORDERSYNC_DATABASE_URL", deployment["order_book"])
        for name, token in write_config(deployment["config"].with_name("converge.yaml"), sims).items():
            env.setenv(name, token)
        for code in MARKETPLACES:
            _sync(engine, code, "modified")

    # The events applied and the stock pushed to the end (the deployment's stock runs may still be
    # on their way: applying twice changes nothing), then the chaos benchmark's invariants.
    stock.apply_pending_events(engine)
    stock.push_stock(engine, _unpaced_adapter)
    assert invariant_violations(engine, sims) == []
    after_the_kill = snapshot(engine)
    engine.dispose()
    assert after_the_kill["orders"]

    # One clean sync of the same marketplaces, in this process, into a database of its own.
    clean_url = _migrated(_create_postgres_database())
    try:
        clean = make_engine(clean_url)
        with pytest.MonkeyPatch.context() as env:
            env.setenv("ORDERSYNC_DATABASE_URL", clean_url)
            # Unpaced: the clean run is alone, and the simulator no longer refuses.
            config = deployment["config"].with_name("clean.yaml")
            for name, token in write_config(config, sims, paced=False).items():
                env.setenv(name, token)
            upsert_marketplaces(clean, load_config(config))
            seed_stock(clean_url, sims)
            for code, kind in MARKETPLACES.items():
                for sync_type in SYNC_TYPES[kind]:
                    _sync(clean, code, sync_type)
            stock.apply_pending_events(clean)
            stock.push_stock(clean, adapter_for)
        assert snapshot(clean) == after_the_kill
        clean.dispose()
    finally:
        _drop_postgres_database(clean_url)


def _materialized_partitions(instance: DagsterInstance) -> set[str]:
    return set(instance.get_materialized_partitions(AssetKey("marketplace_orders")))


def _partitions(run) -> str:
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    return f"{tags.get('dagster/asset_partition_range_start')}..{tags.get('dagster/asset_partition_range_end')}"


def _code(run) -> str:
    return run.tags.get("dagster/asset_partition_range_start", run.tags.get("dagster/partition", "")).split("|")[0]


def _sync_span(instance: DagsterInstance, run) -> tuple[float, float | None] | None:
    """When the run's sync step started, and ended (None while it runs)."""
    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
    records = instance.get_records_for_run(run.run_id, of_type=kinds).records
    times = {
        r.event_log_entry.dagster_event_type: r.event_log_entry.timestamp
        for r in records
        if r.event_log_entry.step_key == "marketplace_orders"
    }
    if DagsterEventType.STEP_START not in times:
        return None
    end = times.get(DagsterEventType.STEP_SUCCESS) or times.get(DagsterEventType.STEP_FAILURE)
    return times[DagsterEventType.STEP_START], end


def _stored(engine, code: str) -> int:
    with engine.connect() as conn:
        query = select(func.count()).select_from(tables.orders.join(tables.marketplaces))
        return conn.execute(query.where(tables.marketplaces.c.code == code)).scalar_one()


def _unpaced_adapter(row):
    """The marketplace's adapter without pacing, for this process's pushes once the syncs are done."""
    fields = dict(row._mapping)
    return adapter_for(SimpleNamespace(**fields | {"settings": (fields["settings"] or {}) | {"rate_limit": None}}))


def _sync(engine, code: str, sync_type: str) -> None:
    with engine.connect() as conn:
        row = find_marketplace(conn, code)
    adapter = adapter_for(row)
    try:
        run_sync(engine, MarketplaceRef(row.id, row.code), adapter, sync_type, SyncOptions())
    finally:
        adapter.close()


def snapshot(engine) -> dict[str, list]:
    """What a sync leaves, without ids or times: orders, lines, locks, stock, listings."""
    o, i, m, lk = tables.orders, tables.order_items, tables.marketplaces, tables.marketplace_stock_locks
    ms, inv = tables.marketplace_stock, tables.inventory
    queries = {
        "orders": select(m.c.code, o.c.reference, o.c.status, o.c.marketplace_state, o.c.total_price).join(m),
        "lines": select(m.c.code, o.c.reference, i.c.reference, i.c.sku, i.c.quantity, i.c.status).select_from(
            i.join(o, i.c.order_id == o.c.id).join(m)
        ),
        "locks": select(m.c.code, o.c.reference, i.c.reference, lk.c.sku, lk.c.quantity, lk.c.status).select_from(
            lk.join(i, lk.c.order_item_id == i.c.id).join(o, i.c.order_id == o.c.id).join(m)
        ),
        "events": select(m.c.code, o.c.reference, func.count())
        .select_from(tables.order_events.join(o, tables.order_events.c.order_id == o.c.id).join(m))
        .where(tables.order_events.c.type == "OrderCreated")
        .group_by(m.c.code, o.c.reference),
        "stock": select(inv.c.sku, inv.c.on_hand),
        "listings": select(m.c.code, ms.c.sku, ms.c.locked_quantity, ms.c.pushed_quantity).join(m),
    }
    with engine.connect() as conn:
        return {name: sorted(tuple(row) for row in conn.execute(query)) for name, query in queries.items()}
