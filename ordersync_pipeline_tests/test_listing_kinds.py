"""A listing is named by its marketplace's id or by its SKU as the stock file says, never guessed
from its characters: pushed over real HTTP to the Refurbed simulator, refused at import where the
marketplace cannot take it."""

from __future__ import annotations

from sqlalchemy import select

from ordersync_pipeline.db.tables import marketplace_stock
from ordersync_pipeline.marketplaces.registry import adapter_for
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator
from ordersync_pipeline.stock import import_stock, push_stock
from ordersync_pipeline_tests import stock_helpers
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace

EAN = "4006381333931"  # a SKU made only of digits, as EAN-style codes are
NAMED = "IPH13-128-BLK-A"


def write(tmp_path, text):
    path = tmp_path / "stock.csv"
    path.write_text(text)
    return path


def kinds(engine) -> dict[str, tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(marketplace_stock.c.sku, marketplace_stock.c.listing_ref, marketplace_stock.c.listing_kind)
        )
        return {sku: (ref, kind) for sku, ref, kind in rows}


def test_a_sku_of_digits_named_by_sku_is_pushed_by_sku_and_an_offer_id_by_id(engine, tmp_path, monkeypatch):
    monkeypatch.setenv("RB_DE_TOKEN", TOKEN)
    skus = [{"sku": EAN, "quantity": 9}, {"sku": NAMED, "quantity": 9}]
    with RefurbedSimulator(tokens={TOKEN}, orders=0, skus=skus) as simulator:
        add_marketplace(engine, simulator, "refurbed-de", "RB_DE_TOKEN", "refurbed")
        offer_id = {s["sku"]: s["offer_id"] for s in simulator.world.catalogue()}[NAMED]
        stock = f"sku,on_hand,listing_sku:refurbed-de,listing:refurbed-de\n{EAN},3,{EAN},\n{NAMED},2,,{offer_id}\n"
        assert import_stock(engine, write(tmp_path, stock)).ok
        assert kinds(engine) == {EAN: (EAN, "sku"), NAMED: (offer_id, "id")}

        report = push_stock(engine, adapter_for)

        assert (report.pushed, report.failed) == (2, 0), report.errors
        assert simulator.world.listing_quantity(EAN) == 3
        assert simulator.world.listing_quantity(NAMED) == 2


def test_a_listing_named_in_a_way_its_marketplace_cannot_take_is_a_bad_row(engine, tmp_path):
    rb = stock_helpers.add_marketplace(engine, "refurbed-de", kind="refurbed")
    bm = stock_helpers.add_marketplace(engine, "backmarket-fr", kind="backmarket")
    stock = (
        "sku,on_hand,listing:refurbed-de,listing_sku:refurbed-de,listing_sku:backmarket-fr,listing:backmarket-fr\n"
        "A,1,61000001,,,4001\n"  # line 2: fine
        "B,1,RF-B,,,\n"  # line 3: a Refurbed offer id is an integer
        "C,1,61000003,C,,\n"  # line 4: both ways
        "D,1,,,D,\n"  # line 5: Back Market sets listings by id only
        "E,1,,E,,4005\n"  # line 6: fine
    )
    report = import_stock(engine, write(tmp_path, stock))

    assert [(e.line, e.message) for e in report.errors] == [
        (3, "refurbed-de: Refurbed offer ids are integers, not 'RF-B' (a SKU is named as one)"),
        (4, "the listing on refurbed-de is given both by id and by SKU: give one"),
        (5, "backmarket-fr: a listing of this marketplace is named by its id, not by its sku"),
    ]
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                marketplace_stock.c.marketplace_id,
                marketplace_stock.c.sku,
                marketplace_stock.c.listing_ref,
                marketplace_stock.c.listing_kind,
            )
        )
        assert set(rows) == {
            (rb, "A", "61000001", "id"),
            (bm, "A", "4001", "id"),
            (rb, "E", "E", "sku"),
            (bm, "E", "4005", "id"),
        }
