"""The order writer's fingerprints: an unchanged order costs no reads of its row or items and no
writes; any change to what is stored is still seen and written."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, update

from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.base import Order, OrderItem, Status
from ordersync_pipeline.sync.order_writer import fingerprint, prepare_orders, write_orders, write_prepared

SHIPPED = Order(
    reference="1001",
    status=Status.SHIPPED,
    marketplace_state="3",
    currency="EUR",
    total_price=Decimal("389.00"),
    created_at=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
    modified_at=datetime(2026, 11, 2, 9, 0, tzinfo=UTC),
    items=(
        OrderItem(
            reference="5001",
            sku="IPH13-128-BLK-A",
            listing_ref="L1",
            quantity=1,
            unit_price=Decimal("389.00"),
            status=Status.SHIPPED,
            marketplace_state="3",
        ),
    ),
    tracking_number="TRK1",
)

ORDER_CHANGES = {
    "status": Status.CANCELLED,
    "marketplace_state": "4",
    "currency": "USD",
    "total_price": Decimal("389.01"),
    "created_at": datetime(2026, 11, 1, 9, 1, tzinfo=UTC),
    "modified_at": datetime(2026, 11, 2, 9, 1, tzinfo=UTC),
    "delivery_note_url": "https://example.test/note.pdf",
    "label_url": "https://example.test/label.pdf",
    "tracking_number": "TRK2",
}
ITEM_CHANGES = {
    "reference": "5002",
    "sku": "IPH12-64-BLU-B",
    "listing_ref": "L2",
    "quantity": 2,
    "unit_price": Decimal("388.99"),
    "status": Status.RETURNED,
    "marketplace_state": "6",
}


def _in_status(order: Order, status: Status) -> Order:
    """``order`` and its one item in ``status``."""
    return order.with_items([dataclasses.replace(order.items[0], status=status)], status=status)


def _with_item_change(order: Order, name: str, value) -> Order:
    return order.with_items([dataclasses.replace(order.items[0], **{name: value})])


@pytest.mark.parametrize("name", sorted(ORDER_CHANGES))
def test_every_stored_order_field_changes_the_fingerprint(name):
    assert fingerprint(dataclasses.replace(SHIPPED, **{name: ORDER_CHANGES[name]})) != fingerprint(SHIPPED)


@pytest.mark.parametrize("name", sorted(ITEM_CHANGES))
def test_every_stored_item_field_changes_the_fingerprint(name):
    assert fingerprint(_with_item_change(SHIPPED, name, ITEM_CHANGES[name])) != fingerprint(SHIPPED)


def test_a_missing_value_and_the_text_none_differ():
    assert fingerprint(dataclasses.replace(SHIPPED, label_url="None")) != fingerprint(SHIPPED)


def _statements(engine, action):
    seen: list[str] = []

    def record(conn, cursor, statement, *args):
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        with engine.begin() as conn:
            result = action(conn)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return result, seen


def test_an_unchanged_order_is_neither_read_in_full_nor_written(engine, marketplace_id):
    with engine.begin() as conn:
        assert write_orders(conn, marketplace_id, [SHIPPED]).created == 1

    result, statements = _statements(engine, lambda conn: write_orders(conn, marketplace_id, [SHIPPED]))

    assert (result.created, result.updated, result.unchanged, result.events) == (0, 0, 1, 0)
    assert not [s for s in statements if "FROM order_items" in s], statements
    assert not [s for s in statements if s.startswith(("INSERT", "UPDATE"))], statements


@pytest.mark.parametrize("change", ["unit_price", "label_url"])
def test_a_change_behind_a_stored_fingerprint_is_written_with_the_new_fingerprint(engine, marketplace_id, change):
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [SHIPPED])
    if change == "unit_price":
        changed = _with_item_change(SHIPPED, "unit_price", Decimal("379.00"))
    else:
        changed = dataclasses.replace(SHIPPED, label_url="https://example.test/label.pdf")

    with engine.begin() as conn:
        result = write_orders(conn, marketplace_id, [changed])

    assert (result.updated, result.unchanged) == (1, 0)
    with engine.connect() as conn:
        stored = conn.execute(select(tables.orders)).one()
        price = conn.execute(select(tables.order_items.c.unit_price)).scalar_one()
    assert stored.fingerprint == fingerprint(changed)
    assert (price, stored.label_url) == (
        changed.items[0].unit_price,
        changed.label_url,
    )


def test_an_order_stored_without_a_fingerprint_is_compared_field_by_field(engine, marketplace_id):
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [SHIPPED])
        conn.execute(update(tables.orders).values(fingerprint=None))

    with engine.begin() as conn:
        same = write_orders(conn, marketplace_id, [SHIPPED])
        moved = write_orders(conn, marketplace_id, [dataclasses.replace(SHIPPED, tracking_number="TRK9")])

    assert (same.unchanged, same.updated, moved.updated) == (1, 0, 1)


def test_a_paid_order_is_always_read_so_that_its_accepted_items_are_known(engine, marketplace_id):
    paid = _in_status(SHIPPED, Status.PAID)
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [paid], accepted_now={"1001": {"5001"}})

    with engine.begin() as conn:
        again = write_orders(conn, marketplace_id, [paid])

    assert again.unchanged == 1
    assert again.accepted == {"1001": {"5001"}}


OTHER = dataclasses.replace(
    SHIPPED, reference="1002", items=(dataclasses.replace(SHIPPED.items[0], reference="5002"),), tracking_number="TRK3"
)


def _counts(engine):
    with engine.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in (tables.orders, tables.order_items, tables.order_events, tables.pending_order_events)
        )


def test_a_batch_of_new_orders_is_loaded_straight_into_its_tables(engine, marketplace_id):
    with engine.connect() as conn:
        ready = prepare_orders(conn, marketplace_id, [SHIPPED, OTHER])

    result, statements = _statements(engine, lambda conn: write_prepared(conn, ready))

    assert (result.created, result.events) == (2, 4)
    assert not [s for s in statements if s.startswith("CREATE TEMPORARY")], statements
    assert _counts(engine) == (2, 2, 4, 4)
    with engine.connect() as conn:
        stored = {row.reference: row for row in conn.execute(select(tables.orders))}
        items = {row.reference: row.order_id for row in conn.execute(select(tables.order_items))}
    assert items == {"5001": stored["1001"].id, "5002": stored["1002"].id}
    assert stored["1002"].tracking_number == "TRK3"


def test_a_new_order_another_sync_stored_since_the_batch_was_read_is_merged_once(engine, marketplace_id):
    with engine.connect() as conn:
        ready = prepare_orders(conn, marketplace_id, [SHIPPED, OTHER])
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [SHIPPED])  # another sync got there first

    with engine.begin() as conn:
        result = write_prepared(conn, ready)

    assert result.events == 2  # the other order's; the first one's events were written once, before
    assert _counts(engine) == (2, 2, 4, 4)


def _queue(engine) -> set[tuple[int, int]]:
    with engine.connect() as conn:
        return set(conn.execute(select(tables.pending_order_events.c.event_id, tables.pending_order_events.c.order_id)))


def test_each_event_written_waits_once_in_the_queue_for_the_stock(engine, marketplace_id):
    with engine.connect() as conn:
        ready = prepare_orders(conn, marketplace_id, [SHIPPED, OTHER])
    with engine.begin() as conn:
        write_prepared(conn, ready)  # new orders: loaded straight into their tables on Postgres
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [SHIPPED, OTHER])  # the same again: no event, nothing queued
    cancelled = _in_status(OTHER, Status.CANCELLED)
    with engine.begin() as conn:
        assert write_orders(conn, marketplace_id, [cancelled]).events == 1  # merged

    with engine.connect() as conn:
        written = set(conn.execute(select(tables.order_events.c.id, tables.order_events.c.order_id)))
    assert len(written) == 5
    assert _queue(engine) == written


PAID = _in_status(
    SHIPPED.with_items([dataclasses.replace(SHIPPED.items[0], reference="5003")], reference="1003"), Status.PAID
)


def _stored_item(engine, reference: str):
    with engine.connect() as conn:
        return conn.execute(select(tables.order_items).where(tables.order_items.c.reference == reference)).one()


def test_an_acceptance_stored_after_a_batch_was_prepared_is_kept(engine, marketplace_id):
    # A modified sync reads a new paid order; before it writes, the new sync stores and accepts it.
    with engine.connect() as conn:
        stale = prepare_orders(conn, marketplace_id, [PAID])
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [PAID], accepted_now={"1003": {"5003"}})
    accepted_at = _stored_item(engine, "5003").accepted_at

    with engine.begin() as conn:
        write_prepared(conn, stale)

    assert accepted_at is not None
    assert _stored_item(engine, "5003").accepted_at == accepted_at
    with engine.begin() as conn:
        assert write_orders(conn, marketplace_id, [PAID]).accepted == {"1003": {"5003"}}


def test_a_read_from_before_an_acceptance_does_not_step_the_item_back(engine, marketplace_id):
    accepted = _in_status(PAID, Status.ACCEPTED)
    with engine.begin() as conn:
        write_orders(conn, marketplace_id, [PAID], accepted_now={"1003": {"5003"}})
    with engine.begin() as conn:
        assert write_orders(conn, marketplace_id, [accepted]).events == 1  # paid -> accepted
    events_before = _counts(engine)[2]

    with engine.begin() as conn:
        stale = write_orders(conn, marketplace_id, [PAID])  # read before the acceptance, written after

    assert (stale.unchanged, stale.events) == (1, 0)
    assert _stored_item(engine, "5003").status == "accepted"
    assert _counts(engine)[2] == events_before
    with engine.begin() as conn:
        assert write_orders(conn, marketplace_id, [accepted]).events == 0  # nothing to change again
