"""Asset checks on the stock: each names the SKUs, items or orders that break an invariant.

The three checks of the stock's own state are blocking: when one fails in a run that also pushes,
the push does not run, so a broken stock is never sent to the marketplaces.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, timedelta

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    ConfigurableResource,
    MetadataValue,
    ResourceParam,
    asset_check,
)
from pydantic import Field

from ordersync_pipeline.defs.markdown import check_with_table
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.stock.assets import stock_locks
from ordersync_pipeline.stock import checks as invariants
from ordersync_pipeline.sync.queries import pending_events

Reports = ResourceParam[Callable[[object], None]]


class StockCheckSettings(ConfigurableResource):
    max_event_age_minutes: int = Field(default=30, ge=1, description="Oldest a pending order event may get")


@dataclass(frozen=True)
class StockCheckReport:
    """A stock check's result under its check's name, for the command line."""

    check_name: str
    result: invariants.CheckResult


def _result(
    name: str,
    check: invariants.CheckResult,
    reports: Callable[[object], None],
    severity=AssetCheckSeverity.ERROR,
    **metadata,
) -> AssetCheckResult:
    reports(StockCheckReport(name, check))
    metadata["offenders"] = check.count
    details = [[d] for d in check.details]
    return check_with_table(
        check.passed, severity, check.description, metadata, "details", ["what"], details, check.count
    )


@asset_check(asset=stock_locks, blocking=True, description="No SKU has negative on hand or available stock.")
def stock_not_negative(database: OrdersyncDatabase, reports: Reports) -> AssetCheckResult:
    return _result("stock_not_negative", invariants.check_stock_not_negative(database.engine()), reports)


@asset_check(asset=stock_locks, blocking=True, description="Each applied item's lock state matches its status.")
def locks_match_item_status(database: OrdersyncDatabase, reports: Reports) -> AssetCheckResult:
    return _result("locks_match_item_status", invariants.check_locks_match_status(database.engine()), reports)


@asset_check(
    asset=stock_locks,
    blocking=True,
    description="Each listing's locked quantity equals its marketplace's locked locks.",
)
def locked_quantity_matches_locks(database: OrdersyncDatabase, reports: Reports) -> AssetCheckResult:
    return _result("locked_quantity_matches_locks", invariants.check_locked_quantity(database.engine()), reports)


@asset_check(
    asset=stock_locks, description="No order event waits unapplied longer than allowed; shows the oldest one's age."
)
def no_stale_order_events(
    database: OrdersyncDatabase, stock_checks: StockCheckSettings, reports: Reports
) -> AssetCheckResult:
    engine = database.engine()
    with engine.connect() as conn:
        waiting = pending_events(conn)
    metadata: dict = {"pending_events": waiting.count}
    age = waiting.oldest_age()
    if age is not None:
        metadata["oldest_pending_age_minutes"] = round(age.total_seconds() / 60, 1)
        metadata["oldest_pending_since"] = MetadataValue.timestamp(waiting.oldest_created_at.replace(tzinfo=UTC))
    else:
        metadata["oldest_pending_age_minutes"] = 0.0
    check = invariants.check_no_stale_events(engine, timedelta(minutes=stock_checks.max_event_age_minutes))
    return _result("no_stale_order_events", check, reports, **metadata)


@asset_check(asset=stock_locks, description="No oversell: no order item holds a short lock.")
def no_oversell(database: OrdersyncDatabase, reports: Reports) -> AssetCheckResult:
    # A warning, not an error: the orders are real and kept; someone has to source a unit.
    return _result("no_oversell", invariants.check_no_short_locks(database.engine()), reports, AssetCheckSeverity.WARN)


@asset_check(asset=stock_locks, description="Every open order item has a SKU, so that its unit can be locked.")
def items_without_sku(database: OrdersyncDatabase, reports: Reports) -> AssetCheckResult:
    # A warning: the order is kept and synced; a person has to hold its unit by hand.
    return _result(
        "items_without_sku", invariants.check_items_without_sku(database.engine()), reports, AssetCheckSeverity.WARN
    )


STOCK_CHECKS = [
    stock_not_negative,
    locks_match_item_status,
    locked_quantity_matches_locks,
    no_stale_order_events,
    no_oversell,
    items_without_sku,
]
