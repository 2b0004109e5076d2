"""Asset checks on the stock: each names the SKUs, items or orders that break an invariant."""

from datetime import timedelta

from dagster import AssetCheckResult, AssetCheckSeverity, ConfigurableResource, asset_check
from pydantic import Field

from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.stock.assets import stock_locks
from ordersync_pipeline.stock import (
    CheckResult,
    check_items_without_sku,
    check_locked_quantity,
    check_locks_match_status,
    check_no_short_locks,
    check_no_stale_events,
    check_stock_not_negative,
)


class StockCheckSettings(ConfigurableResource):
    max_event_age_minutes: int = Field(default=30, ge=1, description="Oldest a pending order event may get")


def _result(check: CheckResult, severity: AssetCheckSeverity = AssetCheckSeverity.ERROR) -> AssetCheckResult:
    return AssetCheckResult(
        passed=check.passed,
        severity=severity,
        description=check.description,
        metadata={"offenders": check.count, "details": check.details},
    )


@asset_check(asset=stock_locks, description="No SKU has negative on hand or available stock.")
def stock_not_negative(database: OrdersyncDatabase) -> AssetCheckResult:
    return _result(check_stock_not_negative(database.engine()))


@asset_check(asset=stock_locks, description="Each applied item's lock state matches its status.")
def locks_match_item_status(database: OrdersyncDatabase) -> AssetCheckResult:
    return _result(check_locks_match_status(database.engine()))


@asset_check(asset=stock_locks, description="Each listing's locked quantity equals its marketplace's locked locks.")
def locked_quantity_matches_locks(database: OrdersyncDatabase) -> AssetCheckResult:
    return _result(check_locked_quantity(database.engine()))


@asset_check(asset=stock_locks, description="No order event waits unapplied longer than allowed.")
def no_stale_order_events(database: OrdersyncDatabase, stock_checks: StockCheckSettings) -> AssetCheckResult:
    return _result(check_no_stale_events(database.engine(), timedelta(minutes=stock_checks.max_event_age_minutes)))


@asset_check(asset=stock_locks, description="No oversell: no order item holds a short lock.")
def no_oversell(database: OrdersyncDatabase) -> AssetCheckResult:
    # A warning, not an error: the orders are real and kept; someone has to source a unit.
    return _result(check_no_short_locks(database.engine()), AssetCheckSeverity.WARN)


@asset_check(asset=stock_locks, description="Every open order item has a SKU, so that its unit can be locked.")
def items_without_sku(database: OrdersyncDatabase) -> AssetCheckResult:
    # A warning: the order is kept and synced; a person has to hold its unit by hand.
    return _result(check_items_without_sku(database.engine()), AssetCheckSeverity.WARN)


STOCK_CHECKS = [
    stock_not_negative,
    locks_match_item_status,
    locked_quantity_matches_locks,
    no_stale_order_events,
    no_oversell,
    items_without_sku,
]
