"""``listing_reconciliation``: every listing read back from its marketplace and compared with the
computed quantity, drifted ones corrected (``stock.reconcile``), on a schedule of its own.

Each marketplace's new orders are synced and applied before its listings are read, and again
before a listing below its computed quantity is read a second time: that is what keeps it from
raising a listing an order lowered (docs/design.md, "Reconciliation").
"""

import os
from collections.abc import Callable
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSelection,
    Config,
    MaterializeResult,
    ResourceParam,
    asset,
    define_asset_job,
)
from pydantic import Field

from ordersync_pipeline.defs.markdown import table_metadata
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.schedules import running_schedule
from ordersync_pipeline.marketplaces.base import SyncType
from ordersync_pipeline.marketplaces.registry import adapter_for, find_marketplace
from ordersync_pipeline.stock import apply_pending_events
from ordersync_pipeline.stock.reconcile import ReconcileReport, Verdict, reconcile
from ordersync_pipeline.sync.runner import MarketplaceRef, run_sync

COUNTS = ("read", "in_line", "drifted", "corrected", "pending", "deferred", "failed", "unknown", "missing")
#: listings named in the UI's tables; the counts are always whole
SHOWN = 200


class ReconcileConfig(Config):
    marketplace: str | None = Field(default=None, description="One marketplace, by id or code (default: every active)")
    dry_run: bool = Field(default=False, description="Read and compare only: no sync, no push")


def catch_up(engine) -> Callable[[Any], None]:
    """A marketplace's new and modified orders synced and every pending event applied, so that the
    computed quantities know every order the marketplace lists (the modified sync brings the
    orders still waiting for payment, which the new sync does not list but which lower a listing)."""

    def run(row: Any) -> None:
        adapter = adapter_for(row)
        try:
            for sync_type in (SyncType.NEW, SyncType.MODIFIED):
                run_sync(engine, MarketplaceRef(row.id, row.code), adapter, sync_type)
        finally:
            adapter.close()
        apply_pending_events(engine)

    return run


@asset(
    group_name="stock",
    kinds={"python"},
    description=(
        "What every marketplace really lists, compared with the computed quantities: in line, drifted,"
        " unknown here, missing there; drifted listings corrected within the marketplace's budget."
    ),
    check_specs=[
        AssetCheckSpec(
            "listings_in_line",
            asset="listing_reconciliation",
            description="No listing is still drifted after the reconciliation's corrections.",
        )
    ],
)
def listing_reconciliation(
    context: AssetExecutionContext,
    config: ReconcileConfig,
    database: OrdersyncDatabase,
    reports: ResourceParam[Callable[[object], None]],
) -> MaterializeResult:
    engine = database.engine()
    ids = None
    if config.marketplace is not None:
        with engine.connect() as conn:
            ids = [find_marketplace(conn, config.marketplace).id]
    found = reconcile(engine, adapter_for, ids, dry_run=config.dry_run, catch_up=catch_up(engine))
    for report in found:
        reports(report)
        if report.stopped:
            context.log.error(f"{report.marketplace}: reconciliation stopped: {report.stopped}")
        for error in report.errors[:20]:
            context.log.warning(f"{report.marketplace}: {error}")
    totals = {name: sum(getattr(r, name) for r in found) for name in (*COUNTS, "drift_units")}
    metadata: dict[str, Any] = {f"listings_{k}" if k == "read" else k: v for k, v in totals.items()}
    metadata["dry_run"] = config.dry_run
    metadata["by_marketplace"] = table_metadata(["marketplace", *COUNTS, "units of drift"], [_counts(r) for r in found])
    for verdict in (Verdict.UNKNOWN, Verdict.MISSING):
        named = [(r.marketplace, f) for r in found for f in r.named(verdict)]
        if named:
            key = "unknown_here" if verdict == Verdict.UNKNOWN else "missing_there"
            metadata[key] = table_metadata(
                ["marketplace", "listing", "sku", "name", "listed", "computed"],
                [_row(code, f) for code, f in named[:SHOWN]],
                totals["unknown" if verdict == Verdict.UNKNOWN else "missing"],
            )
    stopped = [[r.marketplace, r.stopped] for r in found if r.stopped]
    metadata["stopped"] = len(stopped)
    if stopped:
        metadata["stopped_marketplaces"] = table_metadata(["marketplace", "why"], stopped)
    return MaterializeResult(metadata=metadata, check_results=[_still_drifted(found)])


def _counts(report: ReconcileReport) -> list[object]:
    return [report.marketplace, *(getattr(report, name) for name in COUNTS), report.drift_units]


def _row(code: str, finding) -> list[object]:
    return [code, finding.listing_ref, finding.sku, finding.name, _number(finding.listed), _number(finding.computed)]


def _number(value: int | None) -> str:
    return "" if value is None else str(value)


def _still_drifted(found: list[ReconcileReport]) -> AssetCheckResult:
    drifted = [(r.marketplace, f) for r in found for f in r.still_drifted]
    # Counted from the figures: the findings keep a bounded number of names.
    count = sum(r.drifted - r.corrected for r in found)
    stopped = [f"{r.marketplace} could not be reconciled: {r.stopped}" for r in found if r.stopped]
    metadata: dict[str, Any] = {"still_drifted": count}
    if drifted:
        metadata["listings"] = table_metadata(
            ["marketplace", "listing", "sku", "name", "listed", "computed", "why"],
            [[*_row(code, f), f.action] for code, f in drifted[:SHOWN]],
            count,
        )
    names = "; ".join(
        f"{code} {f.label()}: {f.listed} listed, {f.computed} computed, {f.action}" for code, f in drifted[:20]
    ) + (f"; and {count - 20} more" if count > 20 else "")
    description = f"{count} listing(s) still drifted: {names}" if count else "every listing read is in line"
    return AssetCheckResult(
        check_name="listings_in_line",
        passed=not count and not stopped,
        # A warning: pending and deferred listings are corrected by a later reconciliation.
        severity=AssetCheckSeverity.WARN,
        description="; ".join([*stopped, description]),
        metadata=metadata,
    )


reconcile_listings_job = define_asset_job(
    "reconcile_listings",
    selection=AssetSelection.assets(listing_reconciliation),
    description="Read every listing back, compare with the computed quantities, correct the drifted.",
)

# Hourly, off the minutes the other hourly schedules start on.
reconcile_schedule = running_schedule(
    "reconcile_schedule", reconcile_listings_job, os.environ.get("ORDERSYNC_RECONCILE_CRON", "50 * * * *")
)
