"""Runs the Dagster jobs from the command line, recorded in the Dagster instance like UI runs.

A command-line sync is a run of the ``sync_orders`` job for one partition, and a stock run one of
``update_stock``: they show in the UI under their job, with their partition, on the timeline, and
carry the partition tags the instance's run limits key on.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from functools import cache

from dagster import DagsterInstance, RunConfig

from ordersync_pipeline import settings
from ordersync_pipeline.defs.failures import failure_reason
from ordersync_pipeline.defs.orders.assets import SyncConfig
from ordersync_pipeline.defs.partitions import MARKETPLACE_PARTITIONS_NAME, orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.stock.checks import StockCheckReport, StockCheckSettings
from ordersync_pipeline.defs.stock.jobs import stock_job_name
from ordersync_pipeline.problems import SetupProblem, one_line
from ordersync_pipeline.stock import ApplyReport, PushReport
from ordersync_pipeline.sync.report import Progress, SyncReport

LAUNCHED_BY_TAG = "ordersync/launched_by"


class RunFailed(Exception):
    """A run that failed as a whole; the message is one line, fit for a terminal."""


def dagster_instance() -> DagsterInstance:
    """The instance named by ``DAGSTER_HOME``, else one in the local data folder."""
    home = settings.dagster_home()
    try:
        return _instance_at(str(home))
    except Exception as exc:  # Dagster's own errors for a dagster.yaml it cannot use or a storage it cannot reach
        raise SetupProblem(
            f"the Dagster instance in {home} cannot be loaded: {_first_error(exc)}; check {home / 'dagster.yaml'}"
        ) from exc


_open_instances = contextlib.ExitStack()


@cache
def _instance_at(home: str) -> DagsterInstance:
    # One per process and home, kept open for the process's life: an instance is "the current
    # one" (what Dagster's state-backed definitions look up) only while it is entered.
    return _open_instances.enter_context(DagsterInstance.from_config(home))


def _first_error(exc: Exception) -> str:
    # Dagster's config errors go on to list every key the instance takes: the error itself is enough.
    text = one_line(str(exc)).split(" Expected: ")[0]
    return text if len(text) <= 300 else text[:300] + "..."


def ensure_marketplace_partitions(instance: DagsterInstance, codes: Sequence[str]) -> None:
    known = set(instance.get_dynamic_partitions(MARKETPLACE_PARTITIONS_NAME))
    missing = [code for code in codes if code not in known]
    if missing:
        instance.add_dynamic_partitions(MARKETPLACE_PARTITIONS_NAME, missing)


@dataclass
class StockRun:
    """What a stock run did: the locks applied, the listings pushed, the checks that failed."""

    locks: dict
    push: dict
    failed_checks: list[tuple[str, str, list[str]]]


@dataclass
class Launcher:
    instance: DagsterInstance
    database: OrdersyncDatabase
    #: Dagster's own run log on the terminal (it is in the instance either way).
    verbose: bool = False

    def _loggers(self) -> dict:
        return {"console": {"config": {"log_level": "DEBUG" if self.verbose else "CRITICAL"}}}

    def sync(
        self,
        marketplace_code: str,
        sync_type: str,
        config: SyncConfig,
        progress: Callable[[Progress], None],
    ) -> SyncReport:
        """Run ``sync_orders`` for one partition of ``marketplace_orders`` and return what it reported."""
        from ordersync_pipeline.definitions import defs

        reports: list[SyncReport] = []
        result = defs.resolve_job_def("sync_orders").execute_in_process(
            instance=self.instance,
            partition_key=str(orders_partition_key(marketplace_code, sync_type)),
            resources={"database": self.database, "progress": progress, "reports": reports.append},
            run_config=RunConfig(ops={"marketplace_orders": config}, loggers=self._loggers()),
            tags={LAUNCHED_BY_TAG: "cli"},
            raise_on_error=False,
        )
        if not result.success:
            reason = failure_reason(result.all_events) or "the run failed"
            raise RunFailed(f"{marketplace_code} {sync_type}: {reason}")
        (report,) = reports
        return report

    def reconcile(self, marketplace: str | None = None, dry_run: bool = False) -> list:
        """Run ``reconcile_listings`` once; the reconciliation report of each marketplace."""
        from ordersync_pipeline.definitions import defs
        from ordersync_pipeline.defs.stock.reconcile import ReconcileConfig
        from ordersync_pipeline.stock.reconcile import ReconcileReport

        reports: list[object] = []
        result = defs.resolve_job_def("reconcile_listings").execute_in_process(
            instance=self.instance,
            resources={"database": self.database, "reports": reports.append},
            run_config=RunConfig(
                ops={"listing_reconciliation": ReconcileConfig(marketplace=marketplace, dry_run=dry_run)},
                loggers=self._loggers(),
            ),
            tags={LAUNCHED_BY_TAG: "cli"},
            raise_on_error=False,
        )
        if not result.success:
            raise RunFailed(f"reconcile: {failure_reason(result.all_events) or 'the run failed'}")
        return [r for r in reports if isinstance(r, ReconcileReport)]

    def stock(self, apply: bool = True, push: bool = True) -> StockRun:
        """Apply pending events and/or push quantities, with the stock checks, in one stock job's run.

        A failed blocking check (the stock's own state) keeps the push from running: the run
        then fails, and the checks that failed are the reason.
        """
        from ordersync_pipeline.definitions import defs

        reports: list[object] = []
        result = defs.resolve_job_def(stock_job_name(apply, push)).execute_in_process(
            instance=self.instance,
            resources={"database": self.database, "stock_checks": StockCheckSettings(), "reports": reports.append},
            run_config=RunConfig(loggers=self._loggers()),
            tags={LAUNCHED_BY_TAG: "cli"},
            raise_on_error=False,
        )
        failed = [
            (r.check_name, r.result.description, r.result.details)
            for r in reports
            if isinstance(r, StockCheckReport) and not r.result.passed
        ]
        if not result.success and not failed:
            raise RunFailed(f"stock: {failure_reason(result.all_events) or 'the run failed'}")
        return StockRun(
            locks=next((asdict(r) for r in reports if isinstance(r, ApplyReport)), {}),
            push=next((asdict(r) for r in reports if isinstance(r, PushReport)), {}),
            failed_checks=failed,
        )
