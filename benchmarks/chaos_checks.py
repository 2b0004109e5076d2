"""The invariants of docs/design.md, checked against the database and the simulators after the chaos runs.

Each check returns sentences naming what is wrong; an empty list means it holds.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from benchmarks.chaos_shelf import listed_raw_orders
from ordersync_pipeline.db.tables import marketplaces, order_events, order_items, orders, pending_order_events
from ordersync_pipeline.stock import checks
from ordersync_pipeline.stock.push import listings_to_push

CHECKS = (checks.check_stock_not_negative, checks.check_locks_match_status, checks.check_locked_quantity)


def invariant_violations(engine: Engine, sims: dict[str, Any]) -> list[str]:
    found = _duplicates(engine) + _events(engine) + transition_violations(engine)
    for check in CHECKS:
        result = check(engine)
        found += [f"{result.name}: {detail}" for detail in result.details]
    found += _listings(engine, sims)
    found += _missing_orders(engine, sims)
    return found


def _duplicates(engine: Engine) -> list[str]:
    """1. One row per (marketplace, order reference) and per (order, line reference)."""
    with engine.connect() as conn:
        dup_orders = conn.execute(
            select(orders.c.marketplace_id, orders.c.reference)
            .group_by(orders.c.marketplace_id, orders.c.reference)
            .having(func.count() > 1)
        ).all()
        dup_items = conn.execute(
            select(order_items.c.order_id, order_items.c.reference)
            .group_by(order_items.c.order_id, order_items.c.reference)
            .having(func.count() > 1)
        ).all()
    return [f"order {r.reference} of marketplace {r.marketplace_id} stored twice" for r in dup_orders] + [
        f"line {r.reference} of order id {r.order_id} stored twice" for r in dup_items
    ]


def _events(engine: Engine) -> list[str]:
    """2. Exactly one OrderCreated per order; no event key twice; every event applied."""
    created = (
        select(order_events.c.order_id, func.count().label("n"))
        .where(order_events.c.type == "OrderCreated")
        .group_by(order_events.c.order_id)
        .subquery()
    )
    with engine.connect() as conn:
        wrong = conn.execute(
            select(orders.c.reference, func.coalesce(created.c.n, 0).label("n"))
            .outerjoin(created, created.c.order_id == orders.c.id)
            .where(func.coalesce(created.c.n, 0) != 1)
        ).all()
        keys = conn.execute(
            select(order_events.c.event_key).group_by(order_events.c.event_key).having(func.count() > 1)
        ).all()
        pending = conn.execute(select(func.count()).select_from(pending_order_events)).scalar_one()
    found = [f"order {r.reference} has {r.n} OrderCreated events" for r in wrong]
    found += [f"event key {r.event_key} written twice" for r in keys]
    if pending:
        found.append(f"{pending} event(s) still unapplied after the clean run")
    return found


def transition_violations(engine: Engine) -> list[str]:
    """Exactly one OrderStatusChanged per real transition: each order's events, in the order
    they were written, make one chain from its OrderCreated to the statuses stored, each change
    starting where the one before ended, and no state (the order's status and its items') is
    reached twice: statuses only move on, so a state met again is a transition recorded twice
    or an older version of the order written over a newer one."""
    with engine.connect() as conn:
        stored: dict[int, tuple] = {}
        for row in conn.execute(select(orders.c.id, orders.c.reference, orders.c.status)):
            stored[row.id] = (row.reference, row.status, {})
        for row in conn.execute(select(order_items.c.order_id, order_items.c.reference, order_items.c.status)):
            stored[row.order_id][2][row.reference] = row.status
        history = conn.execute(
            select(order_events.c.order_id, order_events.c.type, order_events.c.from_status)
            .add_columns(order_events.c.to_status, order_events.c.payload)
            .order_by(order_events.c.order_id, order_events.c.id)
        ).all()
    found: list[str] = []
    chains: dict[int, list] = {}
    for event in history:
        chains.setdefault(event.order_id, []).append(event)
    for order_id, events in chains.items():
        reference, status, items = stored.get(order_id, ("?", None, {}))
        states: list[tuple] = []
        for n, event in enumerate(events):
            state = (event.to_status, tuple(sorted((i["reference"], i["status"]) for i in event.payload["items"])))
            if n and event.from_status != states[-1][0]:
                found.append(f"order {reference}: a change from {event.from_status} follows one to {states[-1][0]}")
            if state in states:
                found.append(f"order {reference}: state {state} reached twice ({event.type})")
            states.append(state)
        if states and states[-1] != (status, tuple(sorted(items.items()))):
            found.append(f"order {reference}: its last event ends at {states[-1]}, it is stored as {status} {items}")
    return found


def _listings(engine: Engine, sims: dict[str, Any]) -> list[str]:
    """5. After the push, each listing's quantity at the marketplace equals the computed one."""
    with engine.connect() as conn:
        codes = dict(conn.execute(select(marketplaces.c.id, marketplaces.c.code)).all())
    at_marketplace = {code: sim.control("GET", "state")["listings"] for code, sim in sims.items()}
    found = []
    for listing in listings_to_push(engine):
        code = codes[listing.marketplace_id]
        there = at_marketplace[code].get(listing.sku)
        if there != listing.quantity:
            where = f"{code} listing {listing.listing_ref} ({listing.sku})"
            pushed = listing.pushed_quantity
            found.append(f"{where}: {there} at the marketplace, {listing.quantity} computed, {pushed} last pushed")
    return found


def _missing_orders(engine: Engine, sims: dict[str, Any]) -> list[str]:
    """6. Every order the marketplace lists is in the database after a clean modified sync."""
    found = []
    with engine.connect() as conn:
        for code, sim in sims.items():
            stored = set(
                conn.execute(select(orders.c.reference).join(marketplaces).where(marketplaces.c.code == code)).scalars()
            )
            missing = sorted(listed_orders(sim) - stored)
            found += [f"{code} order {ref} is listed at the marketplace but not stored" for ref in missing]
    return found


def listed_orders(sim: Any) -> set[str]:
    """The references of every order the simulator lists, read over its API as a client would."""
    key = "order_id" if sim.kind == "backmarket" else "id"
    return {str(order[key]) for order in listed_raw_orders(sim)}
