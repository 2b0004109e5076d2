"""Push each listing's quantity to its marketplace when it differs from the one last pushed.

quantity = clamp(on_hand - units locked on every marketplace - the listing's buffer, 0, max).
Units are one pool, so a lock taken on one marketplace lowers the quantity of every listing of
that SKU, and the next push takes the unit off the others. Each listing is named to its
marketplace as the stock file named it: by listing id or by SKU (``listing_kind``).

Only confirmed results are recorded: a failed listing keeps its old ``pushed_quantity`` and is
sent again next time. Quantities are absolute, so sending one twice is harmless. No transaction
is held open while the marketplaces answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, func, select, update

from ordersync_pipeline.db.tables import (
    inventory,
    marketplace_stock,
    marketplace_stock_locks,
    marketplaces,
    utcnow,
)
from ordersync_pipeline.marketplaces.base import ListingKind, MarketplaceAdapter, MarketplaceError, StockUpdate
from ordersync_pipeline.stock.locks import LOCKED

log = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 100


@dataclass
class PushReport:
    pushed: int = 0
    unchanged: int = 0
    failed: int = 0
    #: "marketplace code, listing: error" for each failed listing.
    errors: list[str] = field(default_factory=list)


def desired_quantity(on_hand: int, locked: int, buffer: int, max_quantity: int | None) -> int:
    """Compute what a listing should show: the free units less its buffer, never below 0 nor above max."""
    quantity = max(0, on_hand - locked - (buffer or 0))
    return quantity if max_quantity is None else min(quantity, max(0, max_quantity))


@dataclass(frozen=True)
class Listing:
    id: int
    marketplace_id: int
    sku: str
    listing_ref: str
    quantity: int
    pushed_quantity: int | None
    listing_kind: ListingKind = ListingKind.ID


def listings_to_push(engine: Engine, marketplace_ids: Iterable[int] | None = None) -> list[Listing]:
    """Read every listing of the active marketplaces (or of those given), with its computed quantity."""
    locked = (
        select(marketplace_stock_locks.c.sku, func.sum(marketplace_stock_locks.c.quantity).label("units"))
        .where(marketplace_stock_locks.c.status == LOCKED)
        .group_by(marketplace_stock_locks.c.sku)
        .subquery()
    )
    query = (
        select(
            marketplace_stock,
            func.coalesce(inventory.c.on_hand, 0).label("on_hand"),
            func.coalesce(locked.c.units, 0).label("locked"),
        )
        .join(marketplaces, marketplaces.c.id == marketplace_stock.c.marketplace_id)
        .outerjoin(inventory, inventory.c.sku == marketplace_stock.c.sku)
        .outerjoin(locked, locked.c.sku == marketplace_stock.c.sku)
        .where(marketplaces.c.active.is_(True))
        .order_by(marketplace_stock.c.marketplace_id, marketplace_stock.c.sku)
    )
    if marketplace_ids is not None:
        query = query.where(marketplace_stock.c.marketplace_id.in_(list(marketplace_ids)))
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return [
        Listing(
            id=r.id,
            marketplace_id=r.marketplace_id,
            sku=r.sku,
            listing_ref=r.listing_ref,
            quantity=desired_quantity(int(r.on_hand), int(r.locked), r.buffer, r.max_quantity),
            pushed_quantity=r.pushed_quantity,
            listing_kind=ListingKind(r.listing_kind),
        )
        for r in rows
    ]


def push_stock(
    engine: Engine,
    adapter_for: Callable[[Any], MarketplaceAdapter],
    marketplace_ids: Iterable[int] | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> PushReport:
    """Send the listings whose quantity changed, per marketplace, ``batch_size`` at a time."""
    report = PushReport()
    ids = None if marketplace_ids is None else list(marketplace_ids)
    listings = listings_to_push(engine, ids)
    todo: dict[int, list[Listing]] = {}
    for listing in listings:
        if listing.quantity == listing.pushed_quantity:
            report.unchanged += 1
        else:
            todo.setdefault(listing.marketplace_id, []).append(listing)
    if not todo:
        return report
    with engine.connect() as conn:
        rows = conn.execute(select(marketplaces).where(marketplaces.c.id.in_(list(todo)))).all()
    for row in sorted(rows, key=lambda r: r.id):
        _push_marketplace(engine, row, todo[row.id], adapter_for, batch_size, report)
    return report


def _push_marketplace(
    engine: Engine,
    row: Any,
    listings: list[Listing],
    adapter_for: Callable[[Any], MarketplaceAdapter],
    batch_size: int,
    report: PushReport,
) -> None:
    try:
        adapter = adapter_for(row)
    except MarketplaceError as exc:
        _fail(report, row.code, listings, str(exc))
        return
    try:
        for start in range(0, len(listings), batch_size):
            _push_batch(engine, row.code, adapter, listings[start : start + batch_size], report)
    finally:
        adapter.close()


def _push_batch(
    engine: Engine, code: str, adapter: MarketplaceAdapter, batch: Sequence[Listing], report: PushReport
) -> None:
    updates = [StockUpdate(x.listing_ref, x.sku, x.quantity, x.listing_kind) for x in batch]
    # Until confirmed, what the marketplace shows is unknown: a push may land without its answer
    # coming back (a timeout, a killed process). Forgetting the last confirmed quantity first makes
    # the next push send it again, even when the computed quantity has come back to that value.
    with engine.begin() as conn:
        conn.execute(
            update(marketplace_stock)
            .where(marketplace_stock.c.id.in_([x.id for x in batch]))
            .values(pushed_quantity=None)
        )
    try:
        results = adapter.push_stock(updates)
    except MarketplaceError as exc:
        _fail(report, code, batch, str(exc))
        return
    confirmed: list[Listing] = []
    errors: list[str] = []
    for n, listing in enumerate(batch):
        result = results[n] if n < len(results) else None
        if result is not None and result.ok and result.listing_ref == listing.listing_ref:
            confirmed.append(listing)
        else:
            errors.append("no answer" if result is None else (result.error or "not confirmed"))
            report.errors.append(f"{code}, {listing.listing_ref}: {errors[-1]}")
    if errors:
        report.failed += len(errors)
        log.warning("%s: %d listing(s) not pushed, first error: %s", code, len(errors), errors[0])
    if confirmed:
        now = utcnow()
        with engine.begin() as conn:
            conn.execute(
                update(marketplace_stock)
                .where(marketplace_stock.c.id == bindparam("b_id"))
                .values(pushed_quantity=bindparam("b_quantity"), pushed_at=now),
                [{"b_id": x.id, "b_quantity": x.quantity} for x in confirmed],
            )
        report.pushed += len(confirmed)


def _fail(report: PushReport, code: str, listings: Sequence[Listing], error: str) -> None:
    report.failed += len(listings)
    for listing in listings:
        report.errors.append(f"{code}, {listing.listing_ref}: {error}")
    log.warning("%s: %d listing(s) not pushed: %s", code, len(listings), error)
