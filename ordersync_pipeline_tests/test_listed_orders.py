"""Orders listed unparsed: the sync parses only those whose payload differs from what it stored.

The Back Market adapter hands out each order of a listing with a digest of its payload; the order
writer compares it with the stored fingerprint and reads (parses) only the orders that differ.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.backmarket import adapter as backmarket
from ordersync_pipeline.marketplaces.base import ListedOrder, RecordError, Status
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.sync.order_writer import fingerprint, prepare_orders, write_orders, write_prepared
from ordersync_pipeline_tests.backmarket_fake import envelope, order, orderline
from ordersync_pipeline_tests.sync_helpers import TOKEN, add_marketplace, snapshot
from ordersync_pipeline_tests.test_order_writer import SHIPPED

SINCE = datetime(2020, 1, 1, tzinfo=UTC)


def _listing(adapter, unparsed: bool):
    return list(adapter.iter_modified_orders(SINCE, 50, unparsed=unparsed))


# -- the adapter ---------------------------------------------------------------------------------------


def test_listed_orders_read_to_what_the_parsed_listing_holds(bm, adapter):
    bad = order(2, state=42)
    answer = (200, envelope([order(1), bad, order(3, lines=[orderline(id=7, state=3)]), ["not an order"]]))
    bm.routes[("GET", "/ws/orders")] = [answer, copy.deepcopy(answer)]

    [listed] = _listing(adapter, unparsed=True)
    [parsed] = _listing(adapter, unparsed=False)

    assert listed.orders == [] and [entry.reference for entry in listed.listed] == ["1", "2", "3"]
    records = [entry.read() for entry in listed.listed]
    assert [r for r in records if not isinstance(r, RecordError)] == parsed.orders
    assert listed.errors + [r for r in records if isinstance(r, RecordError)] == parsed.errors
    assert [error.reference for error in parsed.errors] == [None, "2"]
    assert listed.records == parsed.records == 4


def test_the_digest_changes_with_any_part_of_the_payload_and_only_then(bm, adapter):
    first = order(1)
    moved_address = order(1)
    moved_address["shipping_address"] = {**first["shipping_address"], "city": "Lyon"}
    bm.routes[("GET", "/ws/orders")] = [
        (200, envelope([first])),
        (200, envelope([copy.deepcopy(first)])),
        (200, envelope([moved_address])),
    ]

    digests = [_listing(adapter, unparsed=True)[0].listed[0].digest for _ in range(3)]

    assert digests[0] == digests[1] != digests[2]


def test_a_page_with_amounts_sent_as_numbers_is_parsed_at_once_with_exact_decimals(bm, adapter):
    payload = order(1, lines=[orderline(price=229.10)], price=0.1, shipping_price=0.2)
    bm.routes[("GET", "/ws/orders")] = [(200, envelope([order(2), payload]))]

    [page] = _listing(adapter, unparsed=True)

    assert page.listed == [] and [o.reference for o in page.orders] == ["2", "1"]
    assert page.orders[1].total_price == Decimal("0.3") and page.orders[1].items[0].unit_price == Decimal("229.10")


# -- the order writer ----------------------------------------------------------------------------------


def _never_read():
    raise AssertionError("an order whose digest matches the stored one was parsed")


def _stored(engine):
    with engine.connect() as conn:
        return conn.execute(select(tables.orders)).one()


def test_an_order_listed_with_the_stored_digest_is_not_parsed(engine, marketplace_id):
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [SHIPPED])

    with engine.begin() as conn:
        ready = prepare_orders(conn, marketplace_id, [ListedOrder("1001", fingerprint(SHIPPED), _never_read)])
        write_prepared(conn, ready)

    assert (ready.result.unchanged, ready.result.updated, ready.result.events, ready.read) == (1, 0, 0, [])


def test_the_same_order_under_a_new_digest_is_parsed_and_keeps_the_new_digest_without_an_event(engine, marketplace_id):
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [SHIPPED])
    synced_before = _stored(engine).synced_at

    with engine.begin() as conn:
        ready = prepare_orders(conn, marketplace_id, [ListedOrder("1001", "d" * 32, lambda: SHIPPED)])
        write_prepared(conn, ready)
    with engine.begin() as conn:
        again = prepare_orders(conn, marketplace_id, [ListedOrder("1001", "d" * 32, _never_read)])

    assert (ready.result.unchanged, ready.result.updated, ready.result.events) == (1, 0, 0)
    stored = _stored(engine)
    assert stored.fingerprint == "d" * 32 and stored.synced_at >= synced_before
    assert again.result.unchanged == 1 and again.read == []


def test_an_order_that_does_not_parse_is_an_error_and_the_rest_of_the_batch_is_written(engine, marketplace_id):
    broken = RecordError("1002", "order 1002: state: unknown order state 42", raw={"order_id": 1002})
    batch = [ListedOrder("1002", "b" * 32, lambda: broken), ListedOrder("1001", "a" * 32, lambda: SHIPPED)]

    with engine.begin() as conn:
        ready = prepare_orders(conn, marketplace_id, batch)
        write_prepared(conn, ready)

    assert ready.errors == [broken] and ready.result.created == 1
    assert ready.references == ["1001"]
    assert _stored(engine).reference == "1001"


def test_an_order_listed_twice_in_a_batch_is_read_both_times_and_the_latest_is_kept(engine, marketplace_id):
    later = dataclasses.replace(SHIPPED, modified_at=datetime(2026, 11, 3, tzinfo=UTC), tracking_number="TRK2")
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [SHIPPED])

    batch = [ListedOrder("1001", "l" * 32, lambda: later), ListedOrder("1001", fingerprint(SHIPPED), lambda: SHIPPED)]
    with engine.begin() as conn:
        ready = prepare_orders(conn, marketplace_id, batch)
        write_prepared(conn, ready)

    stored = _stored(engine)
    assert (stored.tracking_number, stored.fingerprint) == ("TRK2", "l" * 32)


def test_an_order_with_a_paid_item_is_stored_without_a_digest_so_that_it_is_always_read(engine, marketplace_id):
    paid = dataclasses.replace(
        SHIPPED, status=Status.PAID, items=(dataclasses.replace(SHIPPED.items[0], status=Status.PAID),)
    )
    with engine.begin() as conn:
        write_prepared(conn, prepare_orders(conn, marketplace_id, [ListedOrder("1001", "p" * 32, lambda: paid)]))

    with engine.begin() as conn:
        again = prepare_orders(conn, marketplace_id, [ListedOrder("1001", "p" * 32, lambda: paid)])

    assert _stored(engine).fingerprint is None
    assert again.read == [paid] and again.result.unchanged == 1


# -- a whole sync ----------------------------------------------------------------------------------------


def test_a_resync_of_an_unchanged_listing_parses_no_order_and_writes_nothing(engine, monkeypatch):
    monkeypatch.setenv("MARKET_TEST_TOKEN", TOKEN)
    parsed: list[bytes] = []
    real_read = backmarket.read_order

    def counting_read(payload: bytes):
        parsed.append(payload)
        return real_read(payload)

    monkeypatch.setattr(backmarket, "read_order", counting_read)
    with BackMarketSimulator(tokens={TOKEN}, seed=5, orders=60) as simulator:
        market = add_marketplace(engine, simulator, "backmarket-test", "MARKET_TEST_TOKEN", "backmarket")
        first = market.sync("modified")
        with engine.connect() as conn:
            paid = conn.execute(select(tables.orders).where(tables.orders.c.fingerprint.is_(None))).all()
        parsed.clear()
        before = snapshot(engine)

        again = market.sync("modified", overlap=timedelta(days=365))  # the first run's whole window again

    assert first.created > 20 and not first.failed
    assert again.fetched == first.fetched and again.unchanged == first.fetched
    assert (again.created, again.updated, again.events) == (0, 0, 0)
    # Only orders with a paid item are read again: the new sync must know what it accepted.
    assert sorted(json.loads(p)["order_id"] for p in parsed) == sorted(int(row.reference) for row in paid)
    assert snapshot(engine) == before


def test_a_listed_order_holds_about_the_size_of_its_json():
    raw = order(1)
    size = len(json.dumps(raw, separators=(",", ":")))
    tracemalloc.start()
    try:
        held = [backmarket.listed_order(raw) for _ in range(200)]
        per_order = tracemalloc.get_traced_memory()[0] / len(held)
    finally:
        tracemalloc.stop()
    assert per_order < 2 * size, (per_order, size)
