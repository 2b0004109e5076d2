"""Runs the Dagster assets from the command line, recorded in the Dagster instance like UI runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from dagster import DagsterInstance, RunConfig, materialize
from dagster._core.storage.defs_state.base import set_defs_state_storage

from ordersync_pipeline import settings
from ordersync_pipeline.defs.orders.assets import SyncConfig, marketplace_orders
from ordersync_pipeline.defs.partitions import MARKETPLACE_PARTITIONS_NAME, orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.stock.assets import stock_locks, stock_push
from ordersync_pipeline.defs.stock.checks import STOCK_CHECKS, StockCheckSettings
from ordersync_pipeline.problems import SetupProblem, one_line
from ordersync_pipeline.sync.report import Progress, SyncReport


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


@cache
def _instance_at(home: str) -> DagsterInstance:
    # One per process and home, kept for the process's life.
    return DagsterInstance.from_config(home)


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
class Launcher:
    instance: DagsterInstance
    database: OrdersyncDatabase
    #: Dagster's own run log on the terminal (it is in the instance either way).
    verbose: bool = False

    def _current(self):
        # Dagster finds "the current instance's" state storage through a context variable, which
        # an instance sets only inside its own ``with`` block; name this one for the run.
        return set_defs_state_storage(self.instance.defs_state_storage)

    def _loggers(self) -> dict:
        return {"console": {"config": {"log_level": "DEBUG" if self.verbose else "CRITICAL"}}}

    def sync(
        self,
        marketplace_code: str,
        sync_type: str,
        config: SyncConfig,
        progress: Callable[[Progress], None],
    ) -> SyncReport:
        """Materialize one partition of ``marketplace_orders`` and return what it reported."""
        with self._current():
            result = materialize(
                [marketplace_orders],
                partition_key=orders_partition_key(marketplace_code, sync_type),
                instance=self.instance,
                resources={"database": self.database, "progress": progress},
                run_config=RunConfig(ops={"marketplace_orders": config}, loggers=self._loggers()),
                tags={"ordersync/launched_by": "cli"},
                raise_on_error=False,
            )
        if not result.success:
            raise RunFailed(f"{marketplace_code} {sync_type}: {_failure_reason(result)}")
        values = _metadata(result, "marketplace_orders")
        return SyncReport(**{k: v for k, v in values.items() if k in SyncReport.__dataclass_fields__})

    def stock(self, apply: bool = True, push: bool = True) -> StockRun:
        """Apply pending events and/or push quantities, with the stock checks, in one run."""
        selection = ([stock_locks, *STOCK_CHECKS] if apply else []) + ([stock_push] if push else [])
        with self._current():
            result = materialize(
                selection,
                instance=self.instance,
                resources={"database": self.database, "stock_checks": StockCheckSettings()},
                run_config=RunConfig(loggers=self._loggers()),
                tags={"ordersync/launched_by": "cli"},
                raise_on_error=False,
            )
        if not result.success:
            raise RunFailed(f"stock: {_failure_reason(result)}")
        evaluations = result.get_asset_check_evaluations()
        failed = [(e.check_name, e.description or "", e.metadata["details"].value) for e in evaluations if not e.passed]
        return StockRun(
            locks=_metadata(result, "stock_locks") if apply else {},
            push=_metadata(result, "stock_push") if push else {},
            failed_checks=failed,
        )


def _metadata(result, node: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(node)
    return {key: value.value for key, value in materialization.metadata.items()}


@dataclass
class StockRun:
    """What a stock run did: the locks applied, the listings pushed, the checks that failed."""

    locks: dict[str, int]
    push: dict[str, int]
    failed_checks: list[tuple[str, str, list[str]]]


def _failure_reason(result) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            error = event.step_failure_data.error
            user = event.step_failure_data.user_failure_data
            if user is not None and user.description:
                return user.description
            while error.cause is not None and error.cls_name != "Failure":
                error = error.cause
            return error.message.strip().splitlines()[-1]
    return "the run failed"
