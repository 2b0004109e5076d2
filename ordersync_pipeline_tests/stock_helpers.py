"""Build order-book and stock state directly, as the sync would write it: items plus an event."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from ordersync_pipeline.db.statements import insert_for
from ordersync_pipeline.db.tables import (
    inventory,
    marketplace_stock,
    marketplace_stock_locks,
    marketplaces,
    order_events,
    order_items,
    orders,
    pending_order_events,
    utcnow,
)

_keys = itertools.count(1)


def add_marketplace(engine: Engine, code: str, base_url: str = "http://127.0.0.1:1", **extra: Any) -> int:
    with engine.begin() as conn:
        return conn.execute(
            marketplaces.insert().returning(marketplaces.c.id),
            {
                "code": code,
                "kind": "backmarket",
                "name": code,
                "base_url": base_url,
                "token_env": extra.pop("token_env", "TEST_TOKEN"),
                "active": True,
                "settings": {},
                "updated_at": utcnow(),
                **extra,
            },
        ).scalar_one()


def set_on_hand(engine: Engine, sku: str, on_hand: int) -> None:
    """A shelf count of ``sku`` taken now."""
    with engine.begin() as conn:
        stmt = insert_for(conn, inventory)
        stmt = stmt.on_conflict_do_update(
            index_elements=["sku"], set_={"on_hand": stmt.excluded.on_hand, "counted_at": stmt.excluded.counted_at}
        )
        now = utcnow()
        conn.execute(stmt, {"sku": sku, "on_hand": on_hand, "updated_at": now, "counted_at": now})


def add_listing(
    engine: Engine, marketplace_id: int, sku: str, listing_ref: str, buffer: int = 0, max_quantity=None
) -> None:
    with engine.begin() as conn:
        conn.execute(
            marketplace_stock.insert(),
            {
                "marketplace_id": marketplace_id,
                "sku": sku,
                "listing_ref": listing_ref,
                "buffer": buffer,
                "max_quantity": max_quantity,
                "locked_quantity": 0,
            },
        )


def _event(conn, order_id: int, type_: str, before: str | None, after: str, payload: dict, when=None):
    """An event as the sync writes it: with its row in the queue of pending events."""
    written = conn.execute(
        order_events.insert(),
        {
            "event_key": f"test:{next(_keys)}",
            "type": type_,
            "order_id": order_id,
            "from_status": before,
            "to_status": after,
            "payload": payload,
            "created_at": when or utcnow(),
        },
    )
    conn.execute(pending_order_events.insert(), {"event_id": written.inserted_primary_key[0], "order_id": order_id})


def pending_events(engine: Engine) -> list[int]:
    """The ids of the events the stock has yet to apply."""
    with engine.connect() as conn:
        return list(conn.execute(select(pending_order_events.c.event_id).order_by("event_id")).scalars())


def requeue_every_event(conn) -> None:
    """Every event pending again, as if none had been applied."""
    conn.execute(pending_order_events.delete())
    conn.execute(
        pending_order_events.insert().from_select(
            ["event_id", "order_id"], select(order_events.c.id, order_events.c.order_id)
        )
    )


def _payload(conn, order_id: int) -> dict:
    order = conn.execute(select(orders).where(orders.c.id == order_id)).one()
    items = conn.execute(select(order_items).where(order_items.c.order_id == order_id)).all()
    return {
        "marketplace_id": order.marketplace_id,
        "reference": order.reference,
        "items": [{"reference": i.reference, "sku": i.sku, "quantity": i.quantity, "status": i.status} for i in items],
    }


def create_order(
    engine: Engine,
    marketplace_id: int,
    reference: str,
    items: list[tuple[str, int, str]],
    event_at: datetime | None = None,
) -> int:
    """An order with ``items`` as (sku, quantity, status), and its OrderCreated event."""
    now = utcnow()
    status = items[0][2]
    with engine.begin() as conn:
        order_id = conn.execute(
            orders.insert().returning(orders.c.id),
            {
                "marketplace_id": marketplace_id,
                "reference": reference,
                "status": status,
                "marketplace_state": "1",
                "currency": "EUR",
                "total_price": Decimal("100.00") * len(items),
                "created_at": now,
                "modified_at": now,
                "synced_at": now,
            },
        ).scalar_one()
        conn.execute(
            order_items.insert(),
            [
                {
                    "order_id": order_id,
                    "reference": f"{reference}-{n}",
                    "sku": sku,
                    "listing_ref": f"L-{sku}",
                    "quantity": quantity,
                    "unit_price": Decimal("100.00"),
                    "status": item_status,
                    "marketplace_state": "1",
                }
                for n, (sku, quantity, item_status) in enumerate(items, start=1)
            ],
        )
        _event(conn, order_id, "OrderCreated", None, status, _payload(conn, order_id), event_at)
    return order_id


def change_status(engine: Engine, order_id: int, status: str, item_statuses: dict[int, str] | None = None):
    """Every item (or the 1-based item numbers given) to a new status, with its event."""
    with engine.begin() as conn:
        before = conn.execute(select(orders.c.status).where(orders.c.id == order_id)).scalar_one()
        conn.execute(orders.update().where(orders.c.id == order_id).values(status=status))
        items = conn.execute(
            select(order_items.c.id).where(order_items.c.order_id == order_id).order_by(order_items.c.id)
        ).scalars()
        for n, item_id in enumerate(items, start=1):
            new = status if item_statuses is None else item_statuses.get(n)
            if new is not None:
                conn.execute(order_items.update().where(order_items.c.id == item_id).values(status=new))
        _event(conn, order_id, "OrderStatusChanged", before, status, _payload(conn, order_id))


def locks_by_item(engine: Engine) -> dict[str, tuple[str, int, str]]:
    """Every lock, keyed by its item's reference: (status, quantity, sku)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(order_items.c.reference, marketplace_stock_locks).join(
                order_items, order_items.c.id == marketplace_stock_locks.c.order_item_id
            )
        ).all()
    return {r.reference: (r.status, r.quantity, r.sku) for r in rows}


def on_hand(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(select(inventory.c.sku, inventory.c.on_hand)).all())


def locked_quantities(engine: Engine) -> dict[tuple[int, str], int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(marketplace_stock.c.marketplace_id, marketplace_stock.c.sku, marketplace_stock.c.locked_quantity)
        ).all()
    return {(r.marketplace_id, r.sku): r.locked_quantity for r in rows}


def age_events(engine: Engine, by: timedelta) -> None:
    """Make every event look ``by`` older than it is."""
    with engine.begin() as conn:
        for row in conn.execute(select(order_events.c.id, order_events.c.created_at)).all():
            conn.execute(
                order_events.update().where(order_events.c.id == row.id).values(created_at=row.created_at - by)
            )


def build_busy_book(engine: Engine, orders_count: int = 80, seed: int = 11) -> None:
    """A seeded, contended book: two marketplaces, four scarce SKUs, orders in every state.

    Every event is left pending. The same seed builds the same book in any database.
    """
    import random

    rng = random.Random(seed)
    ids = [add_marketplace(engine, "bm-fr"), add_marketplace(engine, "rf-de")]
    skus = ["A", "B", "C", "D"]
    for sku in skus:
        set_on_hand(engine, sku, rng.randint(1, 4))
        for mp in ids:
            add_listing(engine, mp, sku, f"{mp}-{sku}")
    created = []
    for n in range(orders_count):
        lines = [(rng.choice(skus + ["UNKNOWN"] * (n % 17 == 0)), rng.randint(1, 2), "paid")]
        if rng.random() < 0.3:
            lines.append((rng.choice(skus), 1, rng.choice(["paid", "shipped"])))
        created.append(create_order(engine, rng.choice(ids), f"c{n}", lines))
        # Later changes interleave with new orders, as they would between syncs.
        if created and rng.random() < 0.6:
            order_id = rng.choice(created)
            change_status(engine, order_id, rng.choice(["accepted", "shipped", "cancelled", "refunded", "returned"]))


def book_state(engine: Engine) -> dict[str, Any]:
    """What applying leaves: every lock, on hand per SKU, locked quantity per listing."""
    return {
        "locks": locks_by_item(engine),
        "on_hand": on_hand(engine),
        "locked_quantity": locked_quantities(engine),
    }


def apply_in_process(url: str, batch_size: int, barrier, results) -> None:
    """Run one applier in its own process and engine, starting with the others (multiprocessing)."""
    from ordersync_pipeline.db.engine import make_engine
    from ordersync_pipeline.stock.apply import apply_pending_events

    engine = make_engine(url)
    try:
        engine.connect().close()  # connect before the start line, so that both really start together
        barrier.wait(timeout=60)
        report = apply_pending_events(engine, batch_size=batch_size)
        results.put(("ok", report.events, report.batches))
    except Exception as exc:  # reported to the test, which fails on it
        results.put(("error", repr(exc), 0))
    finally:
        engine.dispose()
