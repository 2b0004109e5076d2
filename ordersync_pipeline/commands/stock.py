"""``ordersync stock``: import on-hand quantities and listings, apply events, push, summarise."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from ordersync_pipeline import console
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.launch import Launcher, dagster_instance
from ordersync_pipeline.order_book import OrderBook
from ordersync_pipeline.stock import import_stock, stock_summary


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
    database = database or OrdersyncDatabase()
    result = Launcher(dagster_instance(), database).stock(apply=apply, push=push)
    console.print_stock_run(result)
    return 0


def summary(order_book: OrderBook | None = None) -> int:
    console.print_stock_summary(stock_summary((order_book or OrderBook()).open()))
    return 0
