"""A short view of the stock for the command line: per SKU, and locks by state."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, func, select

from ordersync_pipeline.db.tables import inventory, marketplace_stock_locks
from ordersync_pipeline.stock.locks import LOCK_STATES, LOCKED, SHORT


@dataclass(frozen=True)
class SkuStock:
    sku: str
    on_hand: int
    locked: int
    short: int

    @property
    def available(self) -> int:
        return self.on_hand - self.locked


@dataclass
class StockSummary:
    skus: list[SkuStock] = field(default_factory=list)
    locks: dict[str, int] = field(default_factory=dict)

    def render(self) -> str:
        """Render the summary as a plain-text table."""
        width = max([len("sku"), *(len(s.sku) for s in self.skus)])
        lines = [f"{'sku':<{width}}  {'on hand':>7}  {'locked':>6}  {'available':>9}  {'short':>5}"]
        for s in self.skus:
            lines.append(f"{s.sku:<{width}}  {s.on_hand:>7}  {s.locked:>6}  {s.available:>9}  {s.short:>5}")
        lines.append("locks: " + ", ".join(f"{state} {self.locks.get(state, 0)}" for state in LOCK_STATES))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def stock_summary(engine: Engine) -> StockSummary:
    locks = marketplace_stock_locks
    per_sku = (
        select(
            locks.c.sku,
            func.sum(locks.c.quantity).filter(locks.c.status == LOCKED).label("locked"),
            func.sum(locks.c.quantity).filter(locks.c.status == SHORT).label("short"),
        )
        .group_by(locks.c.sku)
        .subquery()
    )
    query = (
        select(
            inventory.c.sku,
            inventory.c.on_hand,
            func.coalesce(per_sku.c.locked, 0).label("locked"),
            func.coalesce(per_sku.c.short, 0).label("short"),
        )
        .outerjoin(per_sku, per_sku.c.sku == inventory.c.sku)
        .order_by(inventory.c.sku)
    )
    with engine.connect() as conn:
        skus = [SkuStock(r.sku, r.on_hand, int(r.locked), int(r.short)) for r in conn.execute(query)]
        counts = dict(conn.execute(select(locks.c.status, func.count()).group_by(locks.c.status)).all())
    return StockSummary(skus=skus, locks={state: counts.get(state, 0) for state in LOCK_STATES})
