"""``ordersync marketplaces``: what is configured, and whether each token is present."""

from __future__ import annotations

import os

from rich.table import Table

from ordersync_pipeline.console import console, literal
from ordersync_pipeline.marketplaces.registry import list_marketplaces
from ordersync_pipeline.order_book import OrderBook


def show() -> None:
    engine = OrderBook().open()
    with engine.connect() as conn:
        rows = list_marketplaces(conn, active_only=False)
    table = Table(title="Marketplaces")
    for column in ("id", "code", "kind", "base_url", "token", "active"):
        table.add_column(column)
    for row in rows:
        token = "set" if os.environ.get(row.token_env) else "[red]missing[/red]"
        table.add_row(
            str(row.id), row.code, row.kind, literal(row.base_url), f"{row.token_env} ({token})", str(row.active)
        )
    console.print(table)
