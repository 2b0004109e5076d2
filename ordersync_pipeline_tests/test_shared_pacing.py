"""Several hosts, one account: the budget kept in Postgres, and one sync per marketplace and type.

Each "host" here is a process of its own with a data folder of its own, so nothing is shared but
the Postgres database, as between two machines.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import timedelta

import pytest
from sqlalchemy import text

from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.marketplaces.pacing_store import PacingStoreError, shared_store
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.sync.exclusive import exclusive_sync
from ordersync_pipeline_tests.test_paging_and_pacing import TOKEN, fetch_all, in_processes

SPAWN = multiprocessing.get_context("spawn")


def _as_host(data_dir: str, database_url: str) -> None:
    os.environ["ORDERSYNC_DATA_DIR"] = data_dir
    os.environ["ORDERSYNC_DATABASE_URL"] = database_url


def _fetch_on_host(data_dir: str, database_url: str, url: str, since, store: str) -> int:
    _as_host(data_dir, database_url)
    pages = fetch_all(url, since, page_size=10, concurrency=2, rate_limit=[12, 1.0], rate_limit_store=store)
    return sum(len(p) for p in pages)


@pytest.fixture
def sim():
    with BackMarketSimulator(tokens={TOKEN}, seed=3, orders=300, lines_per_order=2) as simulator:
        yield simulator


def test_two_hosts_keep_one_account_within_its_budget_through_postgres(sim, postgres_url, tmp_path):
    sim.faults.configure(rate_limit=[12, 1.0])
    since = sim.world.now() - timedelta(days=365)
    hosts = [(str(tmp_path / f"host{n}"), postgres_url, sim.url, since, "postgres") for n in (1, 2)]
    counts = in_processes(_fetch_on_host, hosts)
    assert counts[0] == counts[1] > 0
    assert counts[0] > 240  # pages of 10 from each host: several windows' worth of requests together
    assert sim.faults.limited == 0, f"{sim.faults.limited} requests refused with 429"
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE tablename LIKE 'ratelimit___account_%'"))
        names = sorted(row.tablename for row in tables)
    # one bucket for the account, shared by both hosts (and one for its catalog endpoints' own budget)
    assert len([name for name in names if not name.endswith("catalog")]) == 1, names
    engine.dispose()


def test_a_store_that_is_not_postgres_is_refused_without_showing_the_url(monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'o.db'}")
    with pytest.raises(PacingStoreError, match="rate_limit_store") as refused:
        shared_store({"rate_limit_store": "postgres"}, None)
    with pytest.raises(PacingStoreError) as bad_url:
        shared_store({"rate_limit_store": "mysql://u:s3cret@db/x"}, None)
    assert "s3cret" not in str(bad_url.value) and "sqlite" not in str(refused.value)
    url = shared_store({"rate_limit_store": "postgresql+psycopg2://u:pw@db:5432/x"}, None)
    assert url == "postgresql://u:pw@db:5432/x"  # libpq's form, for psycopg's pool
    assert shared_store({}, tmp_path / "f.sqlite") == tmp_path / "f.sqlite"  # the file stays the default


def _hold_sync_lock(data_dir: str, database_url: str, held, release) -> None:
    _as_host(data_dir, database_url)
    engine = make_engine(database_url)
    with exclusive_sync(engine, 1, "new"):
        held.set()
        release.wait(60)
    engine.dispose()


def _waiting_for_advisory_lock(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
        ).scalar_one()


def test_the_sync_lock_of_a_marketplace_and_type_holds_across_hosts(postgres_url, tmp_path):
    """Host 2 asks for the lock host 1 holds: Postgres shows it waiting, and it gets the lock only
    once host 1 lets go."""
    engine = make_engine(postgres_url)
    held = [SPAWN.Event(), SPAWN.Event()]
    release = [SPAWN.Event(), SPAWN.Event()]
    hosts = [
        SPAWN.Process(target=_hold_sync_lock, args=(str(tmp_path / f"host{n}"), postgres_url, held[n], release[n]))
        for n in (0, 1)
    ]
    try:
        hosts[0].start()
        assert held[0].wait(60)
        hosts[1].start()
        polls = 600
        while _waiting_for_advisory_lock(engine) == 0 and polls:
            polls -= 1
            held[1].wait(0.1)
        assert _waiting_for_advisory_lock(engine) == 1, "host 2 never asked for the lock"
        assert not held[1].is_set(), "host 2 took the lock host 1 holds"
        release[0].set()
        assert held[1].wait(60), "host 2 never got the lock after host 1 let go"
        release[1].set()
    finally:
        for event in release:
            event.set()
        for host in hosts:
            host.join(30)
        engine.dispose()
    assert [h.exitcode for h in hosts] == [0, 0]
