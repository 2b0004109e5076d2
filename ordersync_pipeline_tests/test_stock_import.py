"""Importing stock from a CSV file, and seeding it from a catalogue."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ordersync_pipeline.db.tables import marketplace_stock, marketplaces
from ordersync_pipeline.stock.apply import apply_pending_events
from ordersync_pipeline.stock.importer import StockFileError, import_stock, seed_stock
from ordersync_pipeline_tests.stock_helpers import add_marketplace, create_order, locks_by_item, on_hand


def listings(engine):
    with engine.connect() as conn:
        rows = conn.execute(
            select(marketplaces.c.code, marketplace_stock).join(
                marketplaces, marketplaces.c.id == marketplace_stock.c.marketplace_id
            )
        ).all()
    return {(r.code, r.sku): (r.listing_ref, r.buffer, r.max_quantity, r.pushed_quantity) for r in rows}


def write(tmp_path, text):
    path = tmp_path / "stock.csv"
    path.write_text(text)
    return path


def test_import_sets_on_hand_and_listings_and_reports_bad_rows(engine, tmp_path):
    add_marketplace(engine, "bm-fr")
    add_marketplace(engine, "rf-de")
    path = write(
        tmp_path,
        "sku,on_hand,listing:bm-fr,buffer:bm-fr,max:bm-fr,listing:rf-de,listing:nowhere\n"
        "A,5,BM-A,1,3,RF-A,\n"  # line 2: fine
        "B,2,BM-B,,,,\n"  # line 3: fine, defaults
        "C,two,BM-C,,,,\n"  # line 4: not an integer
        "D,-1,,,,,\n"  # line 5: negative
        "E,1,BM-E,x,,,\n"  # line 6: bad buffer
        "F,1,,,,,NW-F\n"  # line 7: unknown marketplace
        "A,9,,,,,\n"  # line 8: SKU twice
        ",3,,,,,\n"  # line 9: no SKU
        "\n"
        "G,0,,,,,\n",  # line 11: fine
    )
    report = import_stock(engine, path)
    assert [(e.line, e.message.split(" ")[0]) for e in report.errors] == [
        (1, "unknown"),
        (4, "on_hand"),
        (5, "on_hand"),
        (6, "buffer:bm-fr"),
        (7, "listing"),
        (8, "sku"),
        (9, "sku"),
    ]
    assert "nowhere" in report.errors[0].message and "line 7" in str(report.errors[4])
    assert (report.skus, report.listings) == (3, 3)
    assert on_hand(engine) == {"A": 5, "B": 2, "G": 0}
    assert listings(engine) == {
        ("bm-fr", "A"): ("BM-A", 1, 3, None),
        ("rf-de", "A"): ("RF-A", 0, None, None),
        ("bm-fr", "B"): ("BM-B", 0, None, None),
    }


def test_reimport_updates_and_a_new_listing_ref_is_pushed_again(engine, tmp_path):
    bm = add_marketplace(engine, "bm-fr")
    import_stock(engine, write(tmp_path, "sku,on_hand,listing:bm-fr\nA,5,BM-A\nB,1,BM-B\n"))
    with engine.begin() as conn:
        conn.execute(
            marketplace_stock.update().where(marketplace_stock.c.marketplace_id == bm).values(pushed_quantity=5)
        )
    report = import_stock(engine, write(tmp_path, "sku,on_hand,listing:bm-fr\nA,4,BM-A2\nB,1,\n"))
    assert report.ok and report.skus == 2
    assert on_hand(engine) == {"A": 4, "B": 1}
    assert listings(engine)[("bm-fr", "A")] == ("BM-A2", 0, None, None)
    assert listings(engine)[("bm-fr", "B")] == ("BM-B", 0, None, 5)  # an empty cell leaves it


def test_missing_required_columns_or_file_is_an_error(engine, tmp_path):
    with pytest.raises(StockFileError, match="on_hand"):
        import_stock(engine, write(tmp_path, "sku,quantity\nA,1\n"))
    with pytest.raises(StockFileError, match="does not exist"):
        import_stock(engine, tmp_path / "nope.csv")


def test_import_that_raises_on_hand_gives_units_to_waiting_orders(engine, tmp_path):
    bm = add_marketplace(engine, "bm-fr")
    create_order(engine, bm, "o1", [("A", 1, "paid")])
    apply_pending_events(engine)
    assert locks_by_item(engine)["o1-1"][0] == "short"
    report = import_stock(engine, write(tmp_path, "sku,on_hand,listing:bm-fr\nA,1,BM-A\n"))
    assert report.promoted == 1
    assert locks_by_item(engine)["o1-1"][0] == "locked"
    with engine.connect() as conn:
        assert conn.execute(select(marketplace_stock.c.locked_quantity)).scalar_one() == 1


def test_seed_stock_from_a_catalogue(engine):
    add_marketplace(engine, "bm-fr")
    add_marketplace(engine, "rf-de")
    report = seed_stock(
        engine,
        [
            {"sku": "A", "on_hand": 3, "listing_ref": "4001"},  # on every active marketplace
            {"sku": "B", "quantity": 2, "listing_id": 4002},  # a simulator catalogue's names
            {"sku": "C", "on_hand": 1, "listings": {"rf-de": {"listing_ref": "R-C", "buffer": 1, "max_quantity": 0}}},
            {"sku": "D", "on_hand": -2},
            {"sku": "E", "on_hand": 1, "listings": {"nowhere": "X"}},
        ],
    )
    assert [e.line for e in report.errors] == [4, 5]
    assert on_hand(engine) == {"A": 3, "B": 2, "C": 1}
    assert listings(engine) == {
        ("bm-fr", "A"): ("4001", 0, None, None),
        ("rf-de", "A"): ("4001", 0, None, None),
        ("bm-fr", "B"): ("4002", 0, None, None),
        ("rf-de", "B"): ("4002", 0, None, None),
        ("rf-de", "C"): ("R-C", 1, 0, None),
    }
