"""Stock invariants as plain functions (docs/design.md, "Invariants" 3 and 4).

Each returns a ``CheckResult`` whose details name what is wrong (SKUs, items, orders,
marketplaces), so that whoever is paged knows where to look. Details are capped, with a count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine, and_, exists, func, select

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
from ordersync_pipeline.marketplaces.base import OPEN_STATUSES
from ordersync_pipeline.stock.locks import LOCKED, SHORT, expected_states

MAX_DETAILS = 50
locks_t = marketplace_stock_locks
#: an item the stock can tie to a unit (one without a SKU is shown by ``check_items_without_sku``)
_has_sku = func.trim(order_items.c.sku) != ""


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    description: str
    details: list[str] = field(default_factory=list)
    #: how many offenders there are (details list at most ``MAX_DETAILS`` of them).
    count: int = 0


def _result(name: str, ok_text: str, problem_text: str, offenders: list[str]) -> CheckResult:
    if not offenders:
        return CheckResult(name, True, ok_text)
    return CheckResult(name, False, problem_text.format(n=len(offenders)), offenders[:MAX_DETAILS], len(offenders))


def _rows(engine: Engine, query) -> list:
    with engine.connect() as conn:
        return conn.execute(query).all()


def _locked_per_sku():
    return (
        select(locks_t.c.sku, func.sum(locks_t.c.quantity).label("units"))
        .where(locks_t.c.status == LOCKED)
        .group_by(locks_t.c.sku)
        .subquery()
    )


def check_stock_not_negative(engine: Engine) -> CheckResult:
    """No SKU has on_hand < 0 or available (on_hand - locked) < 0."""
    locked = _locked_per_sku()
    query = (
        select(inventory.c.sku, inventory.c.on_hand, func.coalesce(locked.c.units, 0).label("locked"))
        .outerjoin(locked, locked.c.sku == inventory.c.sku)
        .where((inventory.c.on_hand < 0) | (inventory.c.on_hand - func.coalesce(locked.c.units, 0) < 0))
        .order_by(inventory.c.sku)
    )
    rows = _rows(engine, query)
    offenders = [f"sku {r.sku}: on_hand {r.on_hand}, locked {r.locked}, available {r.on_hand - r.locked}" for r in rows]
    return _result(
        "stock_not_negative",
        "every SKU has on_hand >= 0 and available >= 0",
        "{n} SKU(s) with negative on_hand or available",
        offenders,
    )


def check_locks_match_status(engine: Engine) -> CheckResult:
    """Each item of an order whose events are all applied has the lock its status calls for."""
    applied = and_(
        exists().where(order_events.c.order_id == orders.c.id),
        ~exists().where(pending_order_events.c.order_id == orders.c.id),
    )
    query = (
        select(
            orders.c.reference.label("order_ref"),
            order_items.c.reference.label("item_ref"),
            order_items.c.sku,
            order_items.c.quantity,
            order_items.c.status,
            locks_t.c.status.label("lock_status"),
            locks_t.c.sku.label("lock_sku"),
            locks_t.c.quantity.label("lock_quantity"),
        )
        .join(orders, orders.c.id == order_items.c.order_id)
        .outerjoin(locks_t, locks_t.c.order_item_id == order_items.c.id)
        .where(applied, _has_sku)
        .order_by(orders.c.id, order_items.c.id)
    )
    offenders = []
    with engine.connect() as conn:
        for r in conn.execute(query):
            where = f"order {r.order_ref}, item {r.item_ref} ({r.sku})"
            if r.lock_status is None:
                offenders.append(f"{where}: {r.status} but no lock")
            elif r.lock_status not in expected_states(r.status):
                offenders.append(f"{where}: {r.status} but lock is {r.lock_status}")
            elif r.lock_status in (LOCKED, SHORT) and (r.lock_sku, r.lock_quantity) != (r.sku, r.quantity):
                offenders.append(
                    f"{where}: open lock is for {r.lock_quantity} x {r.lock_sku}, item is {r.quantity} x {r.sku}"
                )
    return _result(
        "locks_match_status",
        "every applied item's lock matches its status",
        "{n} item(s) whose lock does not match their status",
        offenders,
    )


def check_locked_quantity(engine: Engine) -> CheckResult:
    """``marketplace_stock.locked_quantity`` equals the sum of that marketplace's locked locks."""
    locked = (
        select(locks_t.c.marketplace_id, locks_t.c.sku, func.sum(locks_t.c.quantity).label("units"))
        .where(locks_t.c.status == LOCKED)
        .group_by(locks_t.c.marketplace_id, locks_t.c.sku)
        .subquery()
    )
    units = func.coalesce(locked.c.units, 0)
    query = (
        select(marketplaces.c.code, marketplace_stock.c.sku, marketplace_stock.c.locked_quantity, units.label("units"))
        .join(marketplaces, marketplaces.c.id == marketplace_stock.c.marketplace_id)
        .outerjoin(
            locked,
            and_(
                locked.c.marketplace_id == marketplace_stock.c.marketplace_id, locked.c.sku == marketplace_stock.c.sku
            ),
        )
        .where(marketplace_stock.c.locked_quantity != units)
        .order_by(marketplaces.c.code, marketplace_stock.c.sku)
    )
    rows = _rows(engine, query)
    offenders = [f"{r.code}, sku {r.sku}: locked_quantity {r.locked_quantity}, locks hold {r.units}" for r in rows]
    return _result(
        "locked_quantity_matches_locks",
        "every listing's locked_quantity equals its marketplace's locked locks",
        "{n} listing(s) whose locked_quantity differs from their locks",
        offenders,
    )


def check_no_stale_events(engine: Engine, max_age: timedelta) -> CheckResult:
    """No event has waited longer than ``max_age`` to be applied."""
    cutoff = utcnow() - max_age
    query = (
        select(order_events.c.id, order_events.c.type, order_events.c.created_at, orders.c.reference)
        .join(pending_order_events, pending_order_events.c.event_id == order_events.c.id)
        .join(orders, orders.c.id == order_events.c.order_id)
        .where(order_events.c.created_at < cutoff)
        .order_by(order_events.c.id)
    )
    rows = _rows(engine, query)
    offenders = [
        f"event {r.id} ({r.type}) of order {r.reference}, created {r.created_at:%Y-%m-%d %H:%M:%S}" for r in rows
    ]
    return _result(
        "no_stale_events",
        f"no event waits longer than {max_age}",
        "{n} event(s) waiting longer than " + str(max_age),
        offenders,
    )


def check_no_short_locks(engine: Engine) -> CheckResult:
    """No order waits for units the stock does not have (an oversell).

    Each detail names the short order and the orders holding the SKU's units, with their
    marketplaces: together they are the oversell someone has to settle.
    """
    query = (
        select(
            locks_t.c.status,
            marketplaces.c.code,
            orders.c.reference.label("order_ref"),
            order_items.c.reference.label("item_ref"),
            locks_t.c.sku,
            locks_t.c.quantity,
        )
        .select_from(locks_t)
        .join(order_items, order_items.c.id == locks_t.c.order_item_id)
        .join(orders, orders.c.id == order_items.c.order_id)
        .join(marketplaces, marketplaces.c.id == locks_t.c.marketplace_id)
        .where(
            locks_t.c.sku.in_(select(locks_t.c.sku).where(locks_t.c.status == SHORT)),
            locks_t.c.status.in_([SHORT, LOCKED]),
        )
        .order_by(locks_t.c.sku, locks_t.c.id)
    )
    rows = _rows(engine, query)
    holders: dict[str, list[str]] = {}
    for r in rows:
        if r.status == LOCKED:
            holders.setdefault(r.sku, []).append(f"{r.code} order {r.order_ref}")
    offenders = [
        f"{r.code}, order {r.order_ref}, item {r.item_ref}: {r.quantity} x {r.sku} without stock"
        f" (units held by: {', '.join(holders.get(r.sku, [])) or 'nobody'})"
        for r in rows
        if r.status == SHORT
    ]
    return _result(
        "no_short_locks",
        "no order waits for stock that is not there",
        "{n} item(s) sold without stock (oversold)",
        offenders,
    )


def check_items_without_sku(engine: Engine) -> CheckResult:
    """No open order item lacks a SKU: such an item holds no unit, so every listing of what it
    sold still offers it. Each detail names the marketplace, order, item and listing."""
    query = (
        select(
            marketplaces.c.code,
            orders.c.reference.label("order_ref"),
            order_items.c.reference.label("item_ref"),
            order_items.c.listing_ref,
            order_items.c.status,
        )
        .join(orders, orders.c.id == order_items.c.order_id)
        .join(marketplaces, marketplaces.c.id == orders.c.marketplace_id)
        .where(~_has_sku, order_items.c.status.in_([str(s) for s in OPEN_STATUSES]))
        .order_by(marketplaces.c.code, orders.c.id, order_items.c.id)
    )
    rows = _rows(engine, query)
    offenders = [
        f"{r.code}, order {r.order_ref}, item {r.item_ref} ({r.status}, listing {r.listing_ref or 'unknown'}):"
        " no SKU, no unit locked"
        for r in rows
    ]
    return _result(
        "items_without_sku",
        "every open order item has a SKU",
        "{n} open item(s) without a SKU hold no unit: set their stock by hand",
        offenders,
    )


def all_checks(engine: Engine, max_event_age: timedelta = timedelta(minutes=30)) -> list[CheckResult]:
    return [
        check_stock_not_negative(engine),
        check_locks_match_status(engine),
        check_locked_quantity(engine),
        check_no_stale_events(engine, max_event_age),
        check_no_short_locks(engine),
        check_items_without_sku(engine),
    ]
