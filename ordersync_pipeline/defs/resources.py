"""Resources: the ordersync database, and a progress callback the command line can replace."""

from __future__ import annotations

from functools import cache

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
        config = (self.config_path or str(settings.config_path())) if self.apply_config else None
        return prepared_engine(self.url or settings.database_url(), config)


@cache
def prepared_engine(url: str, config_path: str | None) -> Engine:
    engine = shared_engine(url)
    upgrade(engine)
    if config_path is not None:
        upsert_marketplaces(engine, load_config(config_path))
    return engine


def log_progress(_progress: Progress) -> None:
    """The default progress callback: Dagster's own logs already show each run."""
