"""The order book, one materialization per marketplace and sync type."""

import random
from collections.abc import Callable

from dagster import (
    AssetExecutionContext,
    BackfillPolicy,
    Config,
    Failure,
    MaterializeResult,
    MultiPartitionKey,
    ResourceParam,
    RetryRequested,
    asset,
)
from pydantic import Field

from ordersync_pipeline.defs.partitions import orders_partitions
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces.base import ALL_SYNC_TYPES, AuthenticationError, MarketplaceError
from ordersync_pipeline.marketplaces.registry import adapter_for, find_marketplace
from ordersync_pipeline.sync.report import Progress, SyncReport
from ordersync_pipeline.sync.runner import MarketplaceRef, SyncOptions, run_sync


class SyncConfig(Config):
    page_size: int = Field(default=50, ge=1, le=100, description="Orders asked per page")
    days_back: int = Field(default=2, ge=1, description="How far back the incomplete sync looks, in days")
    retries: int = Field(
        default=3, ge=0, le=10, description="Tries again after a passing failure (never after refused credentials)"
    )
    retry_wait_seconds: float = Field(default=30.0, ge=0, description="Wait before the first retry; doubles each time")


def _in_sync_order(keys: list[str]) -> list[MultiPartitionKey]:
    """Partitions of one run in the order a full sync takes them: per marketplace, new to incomplete."""
    order = [str(t) for t in ALL_SYNC_TYPES]
    parsed = [orders_partitions.get_partition_key_from_str(k) for k in keys]
    return sorted(
        parsed,
        key=lambda k: (k.keys_by_dimension["marketplace"], order.index(k.keys_by_dimension["sync_type"])),
    )


@asset(
    partitions_def=orders_partitions,
    # A backfill of many partitions may run as one run; each partition is still synced on its own.
    backfill_policy=BackfillPolicy.single_run(),
    group_name="orders",
    kinds={"python", "sql"},
    description="Orders and their items, synced from one marketplace by one sync type; writes order events.",
)
def marketplace_orders(
    context: AssetExecutionContext,
    config: SyncConfig,
    database: OrdersyncDatabase,
    progress: ResourceParam[Callable[[Progress], None]],
) -> MaterializeResult:
    engine = database.engine()
    options = SyncOptions(page_size=config.page_size, days_back=config.days_back)
    reports = []
    for key in _in_sync_order(context.partition_keys):
        code, sync_type = key.keys_by_dimension["marketplace"], key.keys_by_dimension["sync_type"]
        try:
            report = _sync_partition(engine, code, sync_type, options, progress)
        except MarketplaceError as exc:
            raise _retry_or_fail(context, config, exc) from None
        if not report.supported:
            context.log.info(f"{code} does not support {sync_type} sync: nothing to do")
        for sample in report.error_samples:
            context.log.warning(f"{code} {sync_type}: {sample}")
        reports.append(report)
    return MaterializeResult(metadata=_metadata(reports))


def _sync_partition(engine, code: str, sync_type: str, options: SyncOptions, progress) -> SyncReport:
    with engine.connect() as conn:
        row = find_marketplace(conn, code)
    adapter = adapter_for(row)
    try:
        return run_sync(engine, MarketplaceRef(row.id, row.code), adapter, sync_type, options, progress)
    finally:
        adapter.close()


def _retry_or_fail(context: AssetExecutionContext, config: SyncConfig, exc: MarketplaceError) -> Exception:
    """A passing failure (the marketplace down, a timeout) is tried again with exponential backoff
    and jitter; refused credentials, or the last try, fail the run with one line, never the token."""
    attempt = context.retry_number
    if not isinstance(exc, AuthenticationError) and attempt < config.retries:
        context.log.warning(f"try {attempt + 1} of {config.retries + 1} failed: {exc}")
        wait = min(300.0, config.retry_wait_seconds * 2**attempt) * random.uniform(0.8, 1.2)
        return RetryRequested(max_retries=config.retries, seconds_to_wait=wait)
    return Failure(description=str(exc))


def _metadata(reports: list[SyncReport]) -> dict:
    if len(reports) == 1:
        return reports[0].as_metadata()
    totals = {
        name: sum(getattr(r, name) for r in reports)
        for name in ("pages", "fetched", "created", "updated", "unchanged", "failed", "events", "accepted")
    }
    return totals | {"partitions": [r.as_metadata() for r in reports]}
