"""Bad payloads end to end through the sync, over real HTTP, on SQLite and on Postgres.

Each bad payload becomes one ``sync_errors`` row that names the field and keeps the raw payload;
the rest of the batch syncs, the run's report counts it, and a later good sync clears it.
"""

from __future__ import annotations

import json
from contextlib import contextmanager

import pytest
from sqlalchemy import select

from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.base import MarketplaceError, SyncType
from ordersync_pipeline.sync.cursors import load_cursor
from ordersync_pipeline_tests.marketplace_drivers import BAD_PAYLOADS, DRIVERS
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}
#: retries without waiting, so that giving up takes no time
FAST_RETRIES = {"max_retries": 2, "backoff_factor": 0.0, "rate_limit": None}


@contextmanager
def _marketplace(kind: str, engine, monkeypatch):
    driver = DRIVERS[kind]
    monkeypatch.setenv("MARKET_TEST_TOKEN", TOKEN)
    with driver.simulator(TOKEN, seed=5) as simulator:
        yield add_marketplace(
            engine, simulator, f"{driver.kind}-test", "MARKET_TEST_TOKEN", driver.kind, settings=FAST_RETRIES
        )


@pytest.fixture(params=sorted(DRIVERS))
def market(request, engine, monkeypatch):
    with _marketplace(request.param, engine, monkeypatch) as market:
        yield market


# Every case each marketplace's payload can carry (a Refurbed item is one unit: it has no quantity).
CASES = [
    (kind, case) for kind in sorted(DRIVERS) for case in BAD_PAYLOADS if DRIVERS[kind].bad_payload(case, 1) is not None
]


def _errors(engine):
    with engine.connect() as conn:
        return conn.execute(select(tables.sync_errors)).all()


def _references(engine):
    with engine.connect() as conn:
        return sorted(conn.execute(select(tables.orders.c.reference)).scalars().all())


@pytest.mark.parametrize("kind, case", CASES)
def test_a_bad_order_is_recorded_the_rest_syncs_and_a_good_sync_clears_it(kind, case, engine, monkeypatch):
    with _marketplace(kind, engine, monkeypatch) as market:
        _bad_order_round_trip(market, engine, case)


def _bad_order_round_trip(market, engine, case: str) -> None:
    world, driver = market.world, market.driver
    good = [driver.paid_order(world, [PHONE]) for _ in range(3)]
    bad = driver.paid_order(world, [PHONE])
    overrides, field = driver.bad_payload(case, bad)
    world.corrupt_order(bad, overrides)

    report = market.sync("modified", page_size=10)

    assert (report.created, report.failed) == (3, 1)
    assert str(bad) in report.error_samples[0]
    (error,) = _errors(engine)
    assert (error.reference, error.sync_type) == (str(bad), "modified")
    assert field in error.error, error.error
    raw = json.loads(error.payload)  # the payload as it came, which still does not parse
    with pytest.raises(ValueError):
        driver.parse_order(raw)
    assert _references(engine) == sorted(str(g) for g in good)

    world.corrupt_order(bad, None)
    again = market.sync("modified", page_size=10)

    assert (again.created, again.failed) == (1, 0)
    assert _errors(engine) == []
    assert str(bad) in _references(engine)


@pytest.mark.parametrize("fault", ["malformed", "truncate"])
def test_a_page_that_stays_unreadable_is_recorded_and_skipped_where_paging_allows(market, engine, fault):
    world, driver = market.world, market.driver
    ordered = [driver.paid_order(world, [PHONE]) for _ in range(25)]
    if driver.kind == "refurbed":
        # Cursor paging: the second page starts after the first one's last id; it cannot be skipped.
        market.simulator.faults.configure(rules=[{"fault": fault, "match": "ListOrders", "skip": 1, "times": 50}])
        with pytest.raises(MarketplaceError) as failure:
            market.sync("modified", page_size=10)
        assert "ListOrders" in str(failure.value) and "not JSON" in str(failure.value)
        assert "cannot go on" in str(failure.value)
        return
    market.simulator.faults.configure(rules=[{"fault": fault, "match": "&page=2", "times": 50}])

    report = market.sync("modified", page_size=10)

    # pages 1 and 3 synced; page 2 recorded once, after the client asked for it three times
    assert (report.created, report.failed) == (15, 1)
    assert market.simulator.faults.describe()["injected"][fault] == 1 + FAST_RETRIES["max_retries"]
    (error,) = _errors(engine)
    assert error.reference is None and "page 2 skipped" in error.error and "not JSON" in error.error
    if fault == "malformed":
        assert "502 Bad Gateway" in error.payload
    else:
        assert error.payload.startswith('{"count":25')  # the start of the body as it came
    with engine.connect() as conn:
        assert load_cursor(conn, market.row().id, SyncType.MODIFIED) is None  # the window is read again

    market.simulator.faults.configure(rules=[])
    again = market.sync("modified", page_size=10)

    assert (again.created, again.failed) == (10, 0)
    assert _errors(engine) == []
    assert _references(engine) == sorted(str(o) for o in ordered)


@pytest.mark.parametrize("fault", ["malformed", "truncate", "error", "timeout", "hang"])
def test_a_fault_that_passes_within_the_retries_costs_nothing(market, engine, fault):
    world, driver = market.world, market.driver
    ordered = [driver.paid_order(world, [PHONE]) for _ in range(25)]
    market.simulator.faults.configure(
        rules=[{"fault": fault, "match": "&page=2" if driver.kind == "backmarket" else "ListOrders", "times": 2}],
        timeout_seconds=0.4,
    )
    with engine.begin() as conn:
        conn.execute(
            tables.marketplaces.update()
            .where(tables.marketplaces.c.code == market.code)
            .values(settings=FAST_RETRIES | {"timeout": [2.0, 0.2]})
        )

    report = market.sync("modified", page_size=10)

    assert market.simulator.faults.describe()["injected"][fault] == 2
    assert (report.created, report.failed) == (25, 0)
    assert _references(engine) == sorted(str(o) for o in ordered)
