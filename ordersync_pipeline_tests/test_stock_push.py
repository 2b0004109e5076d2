"""Pushing listing quantities over HTTP to two Back Market simulators (two marketplace rows)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ordersync_pipeline.db.tables import marketplace_stock
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.stock.apply import apply_pending_events
from ordersync_pipeline.stock.importer import seed_stock
from ordersync_pipeline.stock.push import desired_quantity, push_stock
from ordersync_pipeline_tests.stock_helpers import add_marketplace, change_status, create_order


def test_desired_quantity_clamps():
    assert desired_quantity(on_hand=5, locked=1, buffer=1, max_quantity=None) == 3
    assert desired_quantity(on_hand=5, locked=1, buffer=0, max_quantity=2) == 2
    assert desired_quantity(on_hand=1, locked=1, buffer=1, max_quantity=None) == 0
    assert desired_quantity(on_hand=0, locked=2, buffer=0, max_quantity=0) == 0


@pytest.fixture
def two_shops(engine, monkeypatch):
    """Two simulators with the same catalogue, each a marketplace row; three SKUs seeded."""
    sims = [BackMarketSimulator(tokens={f"token-{n}"}, seed=3, orders=0, port=0).start() for n in (1, 2)]
    ids = []
    for n, sim in enumerate(sims, start=1):
        monkeypatch.setenv(f"PUSH_TEST_TOKEN_{n}", f"token-{n}")
        ids.append(add_marketplace(engine, f"bm-{n}", base_url=sim.url, token_env=f"PUSH_TEST_TOKEN_{n}"))
    catalogue = sims[0].world.catalogue()[:3]
    skus = [item["sku"] for item in catalogue]
    rows = [{"sku": item["sku"], "on_hand": 2, "listing_ref": str(item["listing_id"])} for item in catalogue]
    # The third SKU keeps one unit back on the second marketplace.
    rows[2] = {
        "sku": skus[2],
        "on_hand": 2,
        "listings": {
            "bm-1": str(catalogue[2]["listing_id"]),
            "bm-2": {"listing_ref": str(catalogue[2]["listing_id"]), "buffer": 1},
        },
    }
    assert seed_stock(engine, rows).ok
    yield {"sims": sims, "ids": ids, "skus": skus}
    for sim in sims:
        sim.stop()


def quantities(shops, sku):
    return [sim.world.listing_quantity(sku) for sim in shops["sims"]]


def test_push_sends_changed_quantities_and_a_lock_lowers_every_other_listing(engine, two_shops):
    a, b, c = two_shops["skus"]
    report = push_stock(engine, adapter_for)
    assert (report.pushed, report.unchanged, report.failed) == (6, 0, 0)
    assert quantities(two_shops, a) == [2, 2]
    assert quantities(two_shops, c) == [2, 1]  # the buffer

    # Nothing changed: nothing is sent.
    pushes_before = [len(sim.world.pushes) for sim in two_shops["sims"]]
    report = push_stock(engine, adapter_for)
    assert (report.pushed, report.unchanged, report.failed) == (0, 6, 0)
    assert [len(sim.world.pushes) for sim in two_shops["sims"]] == pushes_before

    # One unit of A sold on the first marketplace: both listings of A go down.
    bm1, bm2 = two_shops["ids"]
    order = create_order(engine, bm1, "o1", [(a, 1, "paid")])
    apply_pending_events(engine)
    report = push_stock(engine, adapter_for)
    assert (report.pushed, report.unchanged) == (2, 4)
    assert quantities(two_shops, a) == [1, 1]

    # The last unit sold on the second marketplace: gone everywhere.
    create_order(engine, bm2, "o2", [(a, 1, "accepted")])
    apply_pending_events(engine)
    push_stock(engine, adapter_for)
    assert quantities(two_shops, a) == [0, 0]

    # Shipping consumes the locked unit: on hand and locks fall together, nothing to push.
    change_status(engine, order, "shipped")
    apply_pending_events(engine)
    assert push_stock(engine, adapter_for).pushed == 0
    assert quantities(two_shops, a) == [0, 0]


def test_failed_pushes_are_counted_not_recorded_and_retried(engine, two_shops, monkeypatch):
    monkeypatch.setenv("PUSH_TEST_TOKEN_2", "a-wrong-token")
    report = push_stock(engine, adapter_for)
    assert (report.pushed, report.failed) == (3, 3)
    assert all(error.startswith("bm-2, ") for error in report.errors)
    assert "a-wrong-token" not in " ".join(report.errors)
    assert pushed_per_marketplace(engine) == {two_shops["ids"][0]: 3, two_shops["ids"][1]: 0}

    monkeypatch.setenv("PUSH_TEST_TOKEN_2", "token-2")
    report = push_stock(engine, adapter_for)
    assert (report.pushed, report.unchanged, report.failed) == (3, 3, 0)
    assert quantities(two_shops, two_shops["skus"][0]) == [2, 2]


def test_push_only_the_marketplaces_asked_for(engine, two_shops):
    report = push_stock(engine, adapter_for, marketplace_ids=[two_shops["ids"][1]])
    assert (report.pushed, report.unchanged) == (3, 0)
    a = two_shops["skus"][0]
    assert quantities(two_shops, a)[1] == 2
    with engine.connect() as conn:
        pushed = conn.execute(
            select(marketplace_stock.c.pushed_quantity).where(marketplace_stock.c.marketplace_id == two_shops["ids"][0])
        ).scalars()
        assert set(pushed) == {None}


def pushed_per_marketplace(engine):
    """How many listings of each marketplace have a recorded push."""
    with engine.connect() as conn:
        rows = conn.execute(select(marketplace_stock.c.marketplace_id, marketplace_stock.c.pushed_quantity))
        counts = {}
        for row in rows:
            counts[row.marketplace_id] = counts.get(row.marketplace_id, 0) + (row.pushed_quantity is not None)
    return counts


def test_missing_token_fails_the_marketplace_only(engine, two_shops, monkeypatch):
    monkeypatch.delenv("PUSH_TEST_TOKEN_1")
    report = push_stock(engine, adapter_for)
    assert (report.pushed, report.failed) == (3, 3)
    assert "PUSH_TEST_TOKEN_1" in report.errors[0]
