"""Stock: locks driven by order events, units on hand, and the quantities pushed to marketplaces."""

from ordersync_pipeline.stock.apply import ApplyReport, apply_pending_events
from ordersync_pipeline.stock.checks import (
    CheckResult,
    all_checks,
    check_items_without_sku,
    check_locked_quantity,
    check_locks_match_status,
    check_no_short_locks,
    check_no_stale_events,
    check_stock_not_negative,
)
from ordersync_pipeline.stock.importer import ImportReport, StockFileError, import_stock, seed_stock
from ordersync_pipeline.stock.push import PushReport, desired_quantity, push_stock
from ordersync_pipeline.stock.summary import StockSummary, stock_summary

__all__ = [
    "ApplyReport",
    "CheckResult",
    "ImportReport",
    "PushReport",
    "StockFileError",
    "StockSummary",
    "all_checks",
    "apply_pending_events",
    "check_items_without_sku",
    "check_locked_quantity",
    "check_locks_match_status",
    "check_no_short_locks",
    "check_no_stale_events",
    "check_stock_not_negative",
    "desired_quantity",
    "import_stock",
    "push_stock",
    "seed_stock",
    "stock_summary",
]
