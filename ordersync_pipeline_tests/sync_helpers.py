"""Helpers for the sync tests: a simulator with a marketplace row pointing at it, and table snapshots."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select

from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.base import SyncType
from ordersync_pipeline.marketplaces.registry import (
    MarketplaceEntry,
    adapter_for,
    find_marketplace,
    upsert_marketplaces,
)
from ordersync_pipeline.sync.report import SyncReport
from ordersync_pipeline.sync.runner import MarketplaceRef, SyncOptions, run_sync
from ordersync_pipeline_tests.marketplace_drivers import DRIVERS

TOKEN = "sim-token-5f2a9c"


@dataclass
class Marketplace:
    engine: Engine
    simulator: Any
    code: str
    driver: Any = DRIVERS["backmarket"]

    @property
    def world(self):
        return self.simulator.world

    def row(self):
        with self.engine.connect() as conn:
            return find_marketplace(conn, self.code)

    def sync(self, sync_type: SyncType | str, **options) -> SyncReport:
        row = self.row()
        adapter = adapter_for(row)
        try:
            return run_sync(self.engine, MarketplaceRef(row.id, row.code), adapter, sync_type, SyncOptions(**options))
        finally:
            adapter.close()


def add_marketplace(
    engine: Engine, simulator: Any, code: str, token_env: str, kind: str = "backmarket", settings: dict | None = None
) -> Marketplace:
    entry = MarketplaceEntry(code=code, kind=kind, base_url=simulator.url, token_env=token_env, settings=settings or {})
    with engine.connect() as conn:
        others = [
            MarketplaceEntry(
                code=r.code,
                kind=r.kind,
                base_url=r.base_url,
                token_env=r.token_env,
                active=r.active,
                settings=r.settings,
            )
            for r in conn.execute(select(tables.marketplaces))
        ]
    upsert_marketplaces(engine, [*others, entry])
    return Marketplace(engine, simulator, code, DRIVERS[kind])


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of the order tables, for "nothing changed" comparisons."""
    result = {}
    with engine.connect() as conn:
        for table in (tables.orders, tables.order_items, tables.order_events, tables.sync_errors, tables.care_folders):
            result[table.name] = [tuple(row) for row in conn.execute(select(table).order_by(table.c.id))]
    return result


def events(engine: Engine) -> list:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(tables.order_events, tables.orders.c.reference)
                .join(tables.orders, tables.orders.c.id == tables.order_events.c.order_id)
                .order_by(tables.order_events.c.id)
            )
        )


def order(engine: Engine, reference) -> tuple:
    with engine.connect() as conn:
        head = conn.execute(select(tables.orders).where(tables.orders.c.reference == str(reference))).one()
        items = list(
            conn.execute(
                select(tables.order_items)
                .where(tables.order_items.c.order_id == head.id)
                .order_by(tables.order_items.c.reference)
            )
        )
    return head, items
