"""Resources: the ordersync database, and callbacks the command line replaces: progress, and reports."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from ordersync_pipeline import settings
from ordersync_pipeline.db.engine import shared_engine, upgrade
from ordersync_pipeline.marketplaces.registry import load_config, upsert_marketplaces
from ordersync_pipeline.sync.report import Progress


class OrdersyncDatabase(ConfigurableResource):
    """The order book. Without a URL: ``ORDERSYNC_DATABASE_URL``, else the embedded SQLite file."""

    url: str | None = Field(default=None, description="SQLAlchemy URL; default from ORDERSYNC_DATABASE_URL")
    config_path: str | None = Field(default=None, description="Marketplace YAML; default from ORDERSYNC_CONFIG")
    apply_config: bool = Field(default=True, description="Bring `marketplaces` in line with the file before use")

    def engine(self) -> Engine:
        """A migrated engine whose ``marketplaces`` match the configuration file."""
        engine = migrated_engine(self.url or settings.database_url())
        if self.apply_config:
            path = Path(self.config_path or settings.config_path())
            # Keyed on the file's modification time: an edited file is applied again, without a restart.
            apply_config(engine, str(path), path.stat().st_mtime_ns if path.exists() else 0)
        return engine


@cache
def migrated_engine(url: str) -> Engine:
    engine = shared_engine(url)
    upgrade(engine)
    return engine


@cache
def apply_config(engine: Engine, path: str, _mtime_ns: int) -> None:
    upsert_marketplaces(engine, load_config(path))


def log_progress(_progress: Progress) -> None:
    """The default progress callback: Dagster's own logs already show each run."""


def discard_report(_report: object) -> None:
    """The default receiver of what each step did (sync reports, stock reports, check results).

    The command line, which runs in the same process, collects them to print; in Dagster's own
    runs the materializations and check evaluations already record them.
    """
