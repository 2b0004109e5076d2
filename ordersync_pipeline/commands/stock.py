"""``ordersync stock``: import on-hand quantities and listings, apply events, push, summarise.

Only the commands that launch runs (apply and push, reconcile) load Dagster: an import or a
summary does without it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ordersync_pipeline import console
from ordersync_pipeline.marketplaces.registry import find_marketplace
from ordersync_pipeline.order_book import OrderBook
from ordersync_pipeline.stock import import_stock, stock_summary

if TYPE_CHECKING:
    from ordersync_pipeline.defs.resources import OrdersyncDatabase


def import_file(path: Path, order_book: OrderBook | None = None, counted_at: datetime | None = None) -> int:
    report = import_stock((order_book or OrderBook()).open(), path, counted_at)
    console.console.print(f"Imported {report.skus} SKUs and {report.listings} listings from {path}", markup=False)
    if report.left_since_count:
        console.console.print(
            f"  {report.left_since_count} unit(s) counted had left since the count time: taken off the count"
        )
    for error in report.errors:
        console.errors.print(f"  {path}: {error}", soft_wrap=True, markup=False)
    return 0 if report.ok else 1


def run(apply: bool, push: bool, database: OrdersyncDatabase | None = None) -> int:
    from ordersync_pipeline.defs.resources import OrdersyncDatabase
    from ordersync_pipeline.launch import Launcher, dagster_instance

    database = database or OrdersyncDatabase()
    result = Launcher(dagster_instance(), database).stock(apply=apply, push=push)
    console.print_stock_run(result)
    return 0


def summary(order_book: OrderBook | None = None) -> int:
    console.print_stock_summary(stock_summary((order_book or OrderBook()).open()))
    return 0


def reconcile(marketplace: str | None = None, dry_run: bool = False, database: OrdersyncDatabase | None = None) -> int:
    from ordersync_pipeline.defs.resources import OrdersyncDatabase
    from ordersync_pipeline.launch import Launcher, dagster_instance

    database = database or OrdersyncDatabase()
    if marketplace is not None:
        with database.engine().connect() as conn:
            marketplace = find_marketplace(conn, marketplace).code  # an unknown one is a one-line error
    reports = Launcher(dagster_instance(), database).reconcile(marketplace, dry_run)
    console.print_reconciliation(reports)
    for report in reports:
        if report.stopped:
            console.error(f"{report.marketplace}: reconciliation stopped: {report.stopped}")
    return 1 if any(r.stopped for r in reports) else 0
