"""Reconciliation over real HTTP, on both marketplaces and both databases: each kind of drift is
found and corrected, the first day's old quantities are all corrected at once, and a listing that
an order lowered before the sync saw the order is never raised back (docs/design.md,
"Reconciliation")."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from ordersync_pipeline import stock
from ordersync_pipeline.db.tables import listings_pending_raise, marketplaces
from ordersync_pipeline.defs.stock.reconcile import catch_up
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.simulator.backmarket import catalog
from ordersync_pipeline.simulator.refurbed import offers
from ordersync_pipeline.stock.push import listings_to_push
from ordersync_pipeline.stock.reconcile import Action, Verdict, reconcile
from ordersync_pipeline_tests.marketplace_drivers import DRIVERS
from ordersync_pipeline_tests.stock_helpers import set_on_hand
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

SETTINGS = {"rate_limit": None, "catalog_rate_limit": None, "max_retries": 1, "backoff_factor": 0.0}

# The simulators' drift, by marketplace kind: (edit, ignore pushes, delete, create by hand, order on read)
DRIFT = {
    "backmarket": (
        catalog.edit_quantity,
        catalog.ignore_pushes,
        catalog.delete_listing,
        catalog.create_listing,
        catalog.order_on_next_read,
    ),
    "refurbed": (
        offers.edit_stock,
        offers.ignore_pushes,
        offers.delete_offer,
        offers.create_offer,
        offers.order_on_next_read,
    ),
}


class Drift:
    def __init__(self, kind: str, world) -> None:
        self.world = world
        self._edit, self._ignore, self._delete, self._create, self._order = DRIFT[kind]

    def edit(self, sku: str, quantity: int) -> None:
        self._edit(self.world, sku, quantity)

    def ignore_pushes(self, sku: str, times: int = 1) -> None:
        self._ignore(self.world, sku, times)

    def delete(self, sku: str) -> None:
        self._delete(self.world, sku)

    def create(self, sku: str, quantity: int, title: str) -> None:
        self._create(self.world, sku, quantity, title)

    def order_on_next_read(self, sku: str) -> None:
        self._order(self.world, [{"sku": sku}])


@pytest.fixture(params=["backmarket", "refurbed"])
def market(request, engine, monkeypatch, tmp_path):
    """A marketplace on its simulator, its catalogue imported as the stock and pushed: in line."""
    monkeypatch.setenv("ORDERSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECONCILE_TEST_TOKEN", TOKEN)
    kind = request.param
    with DRIVERS[kind].simulator(TOKEN, seed=11) as sim:
        market = add_marketplace(engine, sim, f"{kind}-test", "RECONCILE_TEST_TOKEN", kind=kind, settings=SETTINGS)
        stock.seed_stock(engine, sim.world.catalogue(), [market.code])
        stock.push_stock(engine, adapter_for)
        market.drift = Drift(kind, sim.world)
        yield market


def _reconcile(market, **options):
    (report,) = reconcile(market.engine, adapter_for, [market.row().id], catch_up=catch_up(market.engine), **options)
    return report


def _computed(market) -> dict[str, int]:
    return {x.sku: x.quantity for x in listings_to_push(market.engine, [market.row().id])}


def _listed(market) -> dict[str, int]:
    return {x["sku"]: x["quantity"] for x in market.world.catalogue()}


def _in_line(market) -> bool:
    listed = _listed(market)
    return all(listed.get(sku) == quantity for sku, quantity in _computed(market).items())


def _skus(market) -> list[str]:
    return sorted(_computed(market))


def test_every_listing_is_read_and_an_untouched_account_is_in_line(market):
    report = _reconcile(market)

    assert report.read == len(_skus(market)) == 12
    assert (report.in_line, report.drifted, report.unknown, report.missing) == (12, 0, 0, 0)
    assert report.complete and report.findings == []


def test_back_office_edits_up_and_down_are_corrected(market):
    high, low = _skus(market)[:2]
    computed = _computed(market)
    market.drift.edit(high, computed[high] + 5)
    market.drift.edit(low, computed[low] - 3)

    report = _reconcile(market)

    assert (report.drifted, report.corrected, report.drift_units, report.pending) == (2, 2, 8, 0)
    actions = {f.sku: (f.listed, f.computed, f.action) for f in report.findings}
    assert actions == {
        high: (computed[high] + 5, computed[high], Action.LOWERED),
        low: (computed[low] - 3, computed[low], Action.RAISED),
    }
    assert _in_line(market) and report.still_drifted == []


def test_a_push_answered_but_not_applied_is_found_and_sent_again(market):
    sku = _skus(market)[0]
    before = _listed(market)[sku]
    market.drift.ignore_pushes(sku, times=1)
    set_on_hand(market.engine, sku, before - 2)
    assert stock.push_stock(market.engine, adapter_for).pushed == 1  # answered: ordersync thinks it is done
    assert _listed(market)[sku] == before

    report = _reconcile(market)

    assert (report.drifted, report.corrected) == (1, 1)
    assert report.findings[0].action == Action.LOWERED
    assert _listed(market)[sku] == before - 2 == _computed(market)[sku]


def test_a_correction_not_applied_either_is_still_drifted(market):
    sku = _skus(market)[0]
    market.drift.edit(sku, 0)
    market.drift.ignore_pushes(sku, times=5)

    report = _reconcile(market)

    assert (report.drifted, report.corrected) == (1, 0)
    (finding,) = report.still_drifted
    assert (finding.sku, finding.listed, finding.action) == (sku, 0, Action.NOT_APPLIED)


def test_a_deleted_listing_is_missing_there_and_one_made_by_hand_unknown_here(market):
    gone = _skus(market)[3]
    market.drift.delete(gone)
    market.drift.create("HAND-MADE-1", 4, "Listed by hand in the back office")

    report = _reconcile(market)

    assert (report.read, report.in_line, report.missing, report.unknown, report.drifted) == (12, 11, 1, 1, 0)
    (missing,) = report.named(Verdict.MISSING)
    assert (missing.sku, missing.listed, missing.computed) == (gone, None, _computed(market)[gone])
    (unknown,) = report.named(Verdict.UNKNOWN)
    assert (unknown.sku, unknown.name, unknown.listed) == ("HAND-MADE-1", "Listed by hand in the back office", 4)
    assert _listed(market)["HAND-MADE-1"] == 4  # not ordersync's to change


def test_the_marketplaces_own_decrement_on_a_synced_order_is_not_drift(market):
    sku = _skus(market)[0]
    before = _listed(market)[sku]
    market.driver.paid_order(market.world, [{"sku": sku}])  # the marketplace lowers the listing at once
    assert _listed(market)[sku] == before - 1

    report = _reconcile(market)  # syncs the order first: the computed quantity knows it

    assert (report.in_line, report.drifted) == (12, 0)
    assert _listed(market)[sku] == before - 1 == _computed(market)[sku]


def test_a_listing_an_unseen_order_lowered_is_never_raised(market):
    """The order comes in after the reconciliation synced the new orders, just before it reads the
    listings: the listing shows one unit less than computed. Raising it would sell that unit twice."""
    sku = _skus(market)[0]
    before = _listed(market)[sku]
    pushes = len(market.world.pushes)
    market.drift.order_on_next_read(sku)

    report = _reconcile(market)

    assert _listed(market)[sku] == before - 1, "reconciliation raised a listing an order had lowered"
    assert _computed(market)[sku] == before - 1  # the second sync found the order
    assert market.world.pushes[pushes:] == []
    assert (report.in_line, report.drifted, report.corrected) == (12, 0, 0)


def test_a_listing_below_computed_without_a_second_reading_stays_pending(market):
    sku = _skus(market)[0]
    before = _listed(market)[sku]
    market.drift.edit(sku, before - 2)

    (report,) = reconcile(market.engine, adapter_for, [market.row().id])  # no sync to vouch for the reading

    assert (report.drifted, report.pending, report.corrected) == (1, 1, 0)
    assert report.still_drifted[0].action == Action.PENDING
    assert _listed(market)[sku] == before - 2


def test_with_a_confirmation_delay_a_listing_below_is_raised_by_a_later_reconciliation(market, engine):
    delayed = {**SETTINGS, "reconcile_confirm_minutes": 30}
    with engine.begin() as conn:
        conn.execute(update(marketplaces).where(marketplaces.c.code == market.code).values(settings=delayed))
    sku = _skus(market)[0]
    before = _listed(market)[sku]
    market.drift.edit(sku, before - 2)

    first = _reconcile(market)
    assert (first.pending, first.corrected) == (1, 0) and _listed(market)[sku] == before - 2
    with engine.connect() as conn:
        (kept,) = conn.execute(select(listings_pending_raise)).all()
    assert kept.listed_quantity == before - 2
    assert _reconcile(market).pending == 1  # not 30 minutes yet: still pending, first reading kept
    with engine.begin() as conn:  # as if the half hour had passed since that first reading
        conn.execute(update(listings_pending_raise).values(first_seen_at=kept.first_seen_at - timedelta(minutes=31)))

    later = _reconcile(market)

    assert (later.pending, later.corrected) == (0, 1)
    assert _listed(market)[sku] == before
    with engine.connect() as conn:
        assert conn.execute(select(listings_pending_raise)).all() == []


def test_first_day_every_listing_at_an_old_quantity_is_corrected_in_one_reconciliation(market):
    computed = _computed(market)
    # What the old system left: every listing off, some above, some below what ordersync computes.
    for n, sku in enumerate(_skus(market)):
        market.drift.edit(sku, computed[sku] + (n % 5) + 1 if n % 2 else max(0, computed[sku] - (n % 3) - 1))
    assert all(_listed(market)[sku] != computed[sku] for sku in computed)

    report = _reconcile(market)

    assert (report.drifted, report.corrected, report.pending, report.deferred) == (12, 12, 0, 0)
    assert _in_line(market)
    again = _reconcile(market)
    assert (again.in_line, again.drifted) == (12, 0)


def test_a_dry_run_syncs_nothing_and_pushes_nothing(market):
    high, low = _skus(market)[:2]
    computed = _computed(market)
    market.drift.edit(high, computed[high] + 2)
    market.drift.edit(low, computed[low] - 2)
    market.driver.paid_order(market.world, [{"sku": _skus(market)[2]}])
    pushes = len(market.world.pushes)

    report = _reconcile(market, dry_run=True)

    assert market.world.pushes[pushes:] == []
    assert {f.sku: f.action for f in report.findings} == {
        high: Action.WOULD_LOWER,
        low: Action.PENDING,
        _skus(market)[2]: Action.PENDING,  # the order is not synced in a dry run
    }
    assert report.corrected == 0 and report.drifted == 3


def test_corrections_stay_within_the_hours_budget(market, engine):
    budget = {**SETTINGS, "reconcile_corrections_per_hour": 2}
    with engine.begin() as conn:
        conn.execute(update(marketplaces).where(marketplaces.c.code == market.code).values(settings=budget))
    computed = _computed(market)
    for sku in _skus(market)[:5]:
        market.drift.edit(sku, computed[sku] + 1)

    first = _reconcile(market)
    second = _reconcile(market)

    assert (first.drifted, first.corrected, first.deferred) == (5, 2, 3)
    assert (second.drifted, second.corrected, second.deferred) == (3, 0, 3)
    assert sum(_listed(market)[sku] != computed[sku] for sku in computed) == 3


def test_reading_pages_through_every_listing(engine, monkeypatch, tmp_path):
    """More listings than a page holds, read whole on both marketplaces."""
    monkeypatch.setenv("ORDERSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECONCILE_TEST_TOKEN", TOKEN)
    for kind in ("backmarket", "refurbed"):
        with DRIVERS[kind].simulator(TOKEN, seed=11, skus=230) as sim:
            market = add_marketplace(engine, sim, f"{kind}-many", "RECONCILE_TEST_TOKEN", kind=kind, settings=SETTINGS)
            adapter = adapter_for(market.row())
            try:
                pages = list(adapter.iter_listings())
            finally:
                adapter.close()
            assert len(pages) == {"backmarket": 5, "refurbed": 3}[kind]
            listed = {x.sku: x.quantity for page in pages for x in page.listings}
            assert listed == {x["sku"]: x["quantity"] for x in sim.world.catalogue()}
            assert not any(page.incomplete for page in pages)


def test_back_market_reads_within_the_catalogs_budget(engine, monkeypatch, tmp_path):
    """The simulator refuses a catalog read above 5 a second; the adapter, told the same budget,
    is never refused, and its other requests keep the account's budget."""
    monkeypatch.setenv("ORDERSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECONCILE_TEST_TOKEN", TOKEN)
    with DRIVERS["backmarket"].simulator(TOKEN, seed=11, skus=500) as sim:
        sim.world.listing_drift.configure(rate_limit=(5, 1.0), block_seconds=5.0)
        settings = {**SETTINGS, "catalog_rate_limit": [5, 1.0]}
        market = add_marketplace(engine, sim, "bm-budget", "RECONCILE_TEST_TOKEN", settings=settings)
        adapter = adapter_for(market.row())
        try:
            listings = [x for page in adapter.iter_listings() for x in page.listings]
        finally:
            adapter.close()
        assert len(listings) == 500
        assert sim.world.listing_drift.reads == 10
        assert sim.world.listing_drift.limited == 0


def test_a_marketplace_that_cannot_be_reached_stops_alone(engine, monkeypatch, tmp_path):
    monkeypatch.setenv("ORDERSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECONCILE_TEST_TOKEN", TOKEN)
    with DRIVERS["backmarket"].simulator(TOKEN, seed=11) as up:
        down = DRIVERS["refurbed"].simulator(TOKEN, seed=11).start()
        reachable = add_marketplace(engine, up, "bm-up", "RECONCILE_TEST_TOKEN", settings=SETTINGS)
        add_marketplace(engine, down, "rb-down", "RECONCILE_TEST_TOKEN", kind="refurbed", settings=SETTINGS)
        stock.seed_stock(engine, up.world.catalogue(), ["bm-up"])
        stock.push_stock(engine, adapter_for)
        down.stop()
        sku = _skus(reachable)[0]
        Drift("backmarket", up.world).edit(sku, 0)

        reports = {r.marketplace: r for r in reconcile(engine, adapter_for, catch_up=catch_up(engine))}

        assert "cannot reach Refurbed" in reports["rb-down"].stopped
        assert reports["bm-up"].stopped is None and reports["bm-up"].corrected == 1
        assert up.world.listing_quantity(sku) == _computed(reachable)[sku] > 0


def test_a_page_that_cannot_be_read_makes_no_listing_missing(engine, monkeypatch, tmp_path):
    """Back Market's second page stays unreadable: its 50 listings were not heard, so none of them
    is called missing there, and the reconciliation says it was not whole."""
    monkeypatch.setenv("ORDERSYNC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RECONCILE_TEST_TOKEN", TOKEN)
    with DRIVERS["backmarket"].simulator(TOKEN, seed=11, skus=120) as sim:
        market = add_marketplace(engine, sim, "bm-lost-page", "RECONCILE_TEST_TOKEN", settings=SETTINGS)
        stock.seed_stock(engine, sim.world.catalogue(), [market.code])
        stock.push_stock(engine, adapter_for)
        sim.faults.configure(rules=[{"fault": "malformed", "match": "/ws/listings?page-size=50&page=2", "times": 10}])

        report = _reconcile(market)

        assert not report.complete
        assert (report.read, report.in_line, report.missing) == (70, 70, 0)
        assert any("page 2" in error for error in report.errors)
