"""Apply pending order events to the stock: locks, on hand, and each listing's locked quantity.

A batch of events is one transaction and a fixed number of statements, whatever its size:

1. wait for the applier lock (Postgres), then take the oldest pending events;
2. read the items of the orders they name (an item without a SKU is left out: nothing ties it
   to stock; the sync flags it);
3. create missing ``inventory`` rows (on_hand 0, never counted: an unknown SKU has nothing to sell);
4. lock those SKUs' ``inventory`` rows (and of any SKU an item's lock had before) ``FOR UPDATE``,
   in SKU order, and read on_hand and when it was counted;
5. read the locks of the items, every ``short`` lock of those SKUs and the units their
   ``locked`` locks hold (summed by the database), now that nobody else can change them;
6. decide in memory (``locks.Planner``), then write: one insert of new locks (``COPY`` on
   Postgres), one update of changed locks, one update of on_hand, one update of
   ``marketplace_stock.locked_quantity``, one delete taking the events out of the queue of
   pending ones (``pending_order_events``): that is what marks them processed.

Why one applier at a time (a transaction advisory lock) rather than appliers skipping each
other's events: two appliers running different batches side by side would race for scarce units,
and whichever reached a SKU first would get them; the outcome would depend on timing. Waiting
instead makes a second applier read the pending events after the first commits, so two appliers
leave exactly what one leaves. The SKU row locks additionally serialise on_hand against a stock
import running at the same time.

SQLite has no row locks; ``BEGIN IMMEDIATE`` takes its single write lock before the first read,
so that the read-decide-write of a batch cannot interleave with another writer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, Select, and_, bindparam, delete, func, or_, select, text, update

from ordersync_pipeline.db.statements import begin_write, insert_for, insert_rows, one_of
from ordersync_pipeline.db.tables import (
    inventory,
    marketplace_stock,
    marketplace_stock_locks,
    order_items,
    orders,
    pending_order_events,
    utcnow,
)
from ordersync_pipeline.db.writes import BulkWriter
from ordersync_pipeline.stock.locks import LOCKED, SHORT, Counts, Item, Lock, Planner, Shortfall

log = logging.getLogger(__name__)

locks_t = marketplace_stock_locks


@dataclass
class ApplyReport(Counts):
    """What an apply did: the planner's counts over every batch, and the events and batches."""

    events: int = 0
    batches: int = 0
    #: shipped units for which no unit was free: on_hand could not go down by them.
    shortfalls: list[Shortfall] = field(default_factory=list)


#: the Postgres advisory lock that one applier holds for each batch's transaction
APPLIER_LOCK = 0x6F72_6465_7273_746B  # "orderstk"


def apply_pending_events(engine: Engine, batch_size: int = 20_000) -> ApplyReport:
    """Apply every pending event, ``batch_size`` at a time, each batch in its own transaction."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    with BulkWriter(engine) as writer:
        return _apply_all(writer, batch_size)


def _apply_all(writer: BulkWriter, batch_size: int) -> ApplyReport:
    report = ApplyReport()
    # Each batch reads on from the last event of the one before. Applied events leave dead entries
    # in the queue's index until a vacuum: read from the start every time, each batch would step
    # over all the run's earlier ones. After a short batch, one more look from the start finds
    # any event a sync committed late with an earlier id.
    after = 0
    while True:
        with writer.transaction() as conn:
            applied, last = _apply_batch(conn, batch_size, report, after)
        if applied:
            report.batches += 1
        if applied == batch_size:
            after = last  # more may follow
        elif after == 0 and applied == 0:
            return report
        else:
            after = 0


def _apply_batch(conn: Connection, batch_size: int, report: ApplyReport, after: int) -> tuple[int, int]:
    """Apply the oldest pending events with ids above ``after``; return how many were applied and
    the last id applied (``after`` itself when none was)."""
    begin_write(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": APPLIER_LOCK})
    now = utcnow()

    queue = pending_order_events
    events = conn.execute(
        select(queue.c.event_id, queue.c.order_id)
        .where(queue.c.event_id > after)
        .order_by(queue.c.event_id)
        .limit(batch_size)
    ).all()
    if not events:
        return 0, after

    # Orders in the order their first pending event arrived: the earlier order gets the unit.
    first_event: dict[int, int] = {}
    last_event: dict[int, int] = {}
    for event_id, order_id in events:
        first_event.setdefault(order_id, event_id)
        last_event[order_id] = event_id
    order_ids = list(first_event)

    item_rows = conn.execute(
        select(  # in the order of Item's fields
            order_items.c.id,
            order_items.c.order_id,
            orders.c.marketplace_id,
            order_items.c.sku,
            order_items.c.quantity,
            order_items.c.status,
            order_items.c.shipped_at,
        )
        .join(orders, orders.c.id == order_items.c.order_id)
        .where(one_of(conn, order_items.c.order_id, order_ids))
        .order_by(order_items.c.id)
    ).all()
    items = [Item(*row) for row in item_rows if row.sku.strip()]
    item_ids = [item.id for item in items]
    item_skus = sorted({item.sku for item in items})

    if item_skus:
        conn.execute(
            insert_for(conn, inventory).on_conflict_do_nothing(index_elements=["sku"]),
            [{"sku": sku, "on_hand": 0, "updated_at": now} for sku in item_skus],
        )
    # The SKUs to lock: the items' and, should an item have changed SKU, its lock's old one.
    old_skus = select(locks_t.c.sku).where(one_of(conn, locks_t.c.order_item_id, item_ids))
    stock = lock_inventory(conn, item_skus, also=old_skus)
    # Read only now, under the row locks: nobody else can change these locks until we commit.
    skus = sorted(stock)
    planner = Planner(
        on_hand={sku: row.on_hand for sku, row in stock.items()},
        locks=load_locks(conn, skus, item_ids),
        now=now,
        locked_totals=locked_units(conn, skus),
        counted_at={sku: row.counted_at for sku, row in stock.items()},
    )
    event_for_sku: dict[str, int] = {}
    for item in sorted(items, key=lambda i: (first_event[i.order_id], i.id)):
        planner.settle(item, last_event[item.order_id])
        event_for_sku[item.sku] = max(event_for_sku.get(item.sku, 0), last_event[item.order_id])
    planner.promote_shorts(event_for_sku)

    write_plan(conn, planner, skus)
    # Processed: out of the queue, in the transaction that applied them.
    conn.execute(delete(queue).where(one_of(conn, queue.c.event_id, [event_id for event_id, _ in events])))

    report.events += len(events)
    report.add(planner.counts)
    report.shortfalls.extend(planner.shortfalls)
    for shortfall in planner.shortfalls:
        log.warning(
            "order item %s shipped %s unit(s) of %s that were not free: on hand could not go down by them",
            shortfall.order_item_id,
            shortfall.missing,
            shortfall.sku,
        )
    return len(events), events[-1].event_id


def write_plan(conn: Connection, planner: Planner, skus: list[str]) -> None:
    """Write the planner's decisions, one statement per table."""
    new = planner.new_locks()
    if new:
        insert_rows(
            conn,
            locks_t,
            [
                {
                    "order_item_id": lock.order_item_id,
                    "marketplace_id": lock.marketplace_id,
                    "sku": lock.sku,
                    "quantity": lock.quantity,
                    "status": lock.status,
                    "event_id": lock.event_id,
                    "locked_at": lock.locked_at,
                    "settled_at": lock.settled_at,
                }
                for lock in new
            ],
        )
        # The marketplace that took an order lowered its own listing already: what was last pushed
        # there no longer holds, so the next push sends the computed quantity again.
        conn.execute(
            update(marketplace_stock)
            .where(
                marketplace_stock.c.marketplace_id == bindparam("b_marketplace"),
                marketplace_stock.c.sku == bindparam("b_sku"),
            )
            .values(pushed_quantity=None),
            [{"b_marketplace": m, "b_sku": sku} for m, sku in sorted({(x.marketplace_id, x.sku) for x in new})],
        )
    changed = planner.changed_locks()
    if changed:
        conn.execute(
            update(locks_t)
            .where(locks_t.c.id == bindparam("b_id"))
            .values(
                sku=bindparam("b_sku"),
                quantity=bindparam("b_quantity"),
                status=bindparam("b_status"),
                event_id=bindparam("b_event_id"),
                locked_at=bindparam("b_locked_at"),
                settled_at=bindparam("b_settled_at"),
            ),
            [
                {
                    "b_id": lock.id,
                    "b_sku": lock.sku,
                    "b_quantity": lock.quantity,
                    "b_status": lock.status,
                    "b_event_id": lock.event_id,
                    "b_locked_at": lock.locked_at,
                    "b_settled_at": lock.settled_at,
                }
                for lock in changed
            ],
        )
    if planner.changed_skus:
        conn.execute(
            update(inventory)
            .where(inventory.c.sku == bindparam("b_sku"))
            .values(on_hand=bindparam("b_on_hand"), updated_at=planner.now),
            [{"b_sku": sku, "b_on_hand": planner.on_hand[sku]} for sku in sorted(planner.changed_skus)],
        )
    if skus:
        sync_locked_quantity(conn, skus)


def lock_inventory(conn: Connection, skus: list[str], also: Select | None = None) -> dict[str, Any]:
    """Lock the ``inventory`` rows of ``skus`` and of the SKUs ``also`` selects, in SKU order;
    their rows (``on_hand``, ``counted_at``) by SKU.

    A fixed order means two transactions wanting the same SKUs queue instead of deadlocking.
    """
    where = one_of(conn, inventory.c.sku, skus)
    if also is not None:
        where = or_(where, inventory.c.sku.in_(also))
    stock = select(inventory.c.sku, inventory.c.on_hand, inventory.c.counted_at).where(where)
    stock = stock.order_by(inventory.c.sku)
    if conn.dialect.name == "postgresql":
        stock = stock.with_for_update(of=inventory)
    return {row.sku: row for row in conn.execute(stock)}


def locked_units(conn: Connection, skus: list[str]) -> dict[str, int]:
    """Sum the units held by ``locked`` locks, per SKU of ``skus``: summed by the database, because a busy
    SKU has thousands of open locks and a batch needs only their total."""
    if not skus:
        return {}
    rows = conn.execute(
        select(locks_t.c.sku, func.sum(locks_t.c.quantity))
        .where(one_of(conn, locks_t.c.sku, skus), locks_t.c.status == LOCKED)
        .group_by(locks_t.c.sku)
    )
    return {sku: int(units) for sku, units in rows}


def load_locks(conn: Connection, skus: list[str], item_ids: list[int]) -> dict[int, Lock]:
    """Read the locks of ``item_ids`` and every ``short`` lock of ``skus``, by order item id.

    ``short`` locks are the ones a freed unit may go to; ``locked`` ones of other items only
    count by their units (``locked_units``)."""
    rows = conn.execute(
        select(locks_t, order_items.c.status.label("item_status"))
        .join(order_items, order_items.c.id == locks_t.c.order_item_id)
        .where(
            or_(
                one_of(conn, locks_t.c.order_item_id, item_ids),
                and_(one_of(conn, locks_t.c.sku, skus), locks_t.c.status == SHORT),
            )
        )
    ).all()
    return {
        r.order_item_id: Lock(
            id=r.id,
            order_item_id=r.order_item_id,
            marketplace_id=r.marketplace_id,
            sku=r.sku,
            quantity=r.quantity,
            status=r.status,
            event_id=r.event_id,
            locked_at=r.locked_at,
            settled_at=r.settled_at,
            item_status=str(r.item_status),
        )
        for r in rows
    }


def promote_waiting(conn: Connection, skus: list[str]) -> int:
    """Give units freed outside any event (a stock import) to the short locks of ``skus``."""
    if not skus:
        return 0
    stock = lock_inventory(conn, sorted(skus))
    skus = sorted(stock)
    planner = Planner(
        on_hand={sku: row.on_hand for sku, row in stock.items()},
        locks=load_locks(conn, skus, []),
        now=utcnow(),
        locked_totals=locked_units(conn, skus),
    )
    planner.promote_shorts({})
    write_plan(conn, planner, skus)
    return planner.counts.promoted


def sync_locked_quantity(conn: Connection, skus: list[str] | None = None) -> None:
    """Set ``marketplace_stock.locked_quantity`` to the sum of its marketplace's locked locks.

    One statement: computed from the locks as they stand, so it cannot drift from them.
    """
    total = (
        select(func.coalesce(func.sum(locks_t.c.quantity), 0))
        .where(
            locks_t.c.marketplace_id == marketplace_stock.c.marketplace_id,
            locks_t.c.sku == marketplace_stock.c.sku,
            locks_t.c.status == LOCKED,
        )
        .scalar_subquery()
    )
    stmt = update(marketplace_stock).values(locked_quantity=total)
    if skus is not None:
        stmt = stmt.where(one_of(conn, marketplace_stock.c.sku, skus))
    conn.execute(stmt)
