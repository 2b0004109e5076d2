"""Resources: the ordersync database, and callbacks the command line replaces: progress, and reports."""

from __future__ import annotations

from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy import Engine

from ordersync_pipeline.order_book import ActiveMarketplace, OrderBook
from ordersync_pipeline.sync.report import Progress


class OrdersyncDatabase(ConfigurableResource):
    """The order book (``order_book.OrderBook``). Without a URL: ``ORDERSYNC_DATABASE_URL``, else the
    embedded SQLite file.

    Runs ask for ``engine()``: the database migrated, with the marketplaces of the file. Schedules
    and sensors ask for ``reader()`` and ``marketplaces()``, which migrate nothing and write nothing.
    """

    url: str | None = Field(default=None, description="SQLAlchemy URL; default from ORDERSYNC_DATABASE_URL")
    config_path: str | None = Field(default=None, description="Marketplace YAML; default from ORDERSYNC_CONFIG")
    apply_config: bool = Field(default=True, description="Bring `marketplaces` in line with the file before use")

    @property
    def order_book(self) -> OrderBook:
        return OrderBook(self.url, self.config_path, self.apply_config)

    def engine(self) -> Engine:
        """Open the order book for a run: the database migrated, its ``marketplaces`` matching the file."""
        return self.order_book.open()

    def reader(self) -> Engine:
        """Return the engine for an evaluation: the database as it is."""
        return self.order_book.reader()

    def marketplaces(self) -> list[ActiveMarketplace]:
        """Read the active marketplaces without migrating or writing anything."""
        return self.order_book.marketplaces()


def log_progress(_progress: Progress) -> None:
    """Drop progress: Dagster's own logs already show each run."""


def discard_report(_report: object) -> None:
    """Drop what each step did (sync reports, stock reports, check results).

    The command line, which runs in the same process, collects them to print; in Dagster's own
    runs the materializations and check evaluations already record them.
    """
