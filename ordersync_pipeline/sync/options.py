"""The sync settings, with their defaults and limits: the command line, the run config, the
schedules and the sensors all take them from here.

A page size is asked of every marketplace alike; one that takes fewer orders a page gets its own
largest (``MarketplaceAdapter.page_size``), and the sync's report says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import Field

from ordersync_pipeline.marketplaces.base import ALL_SYNC_TYPES


@dataclass(frozen=True)
class Bounds:
    """A whole-number setting: its default and the lowest and highest values it takes."""

    default: int
    low: int
    high: int

    def field(self, description: str) -> Any:
        """Make a pydantic field with this default and these limits (run config, resources)."""
        return Field(default=self.default, ge=self.low, le=self.high, description=description)


#: orders asked per page; the highest is the most any marketplace kind takes
PAGE_SIZE = Bounds(default=50, low=1, high=100)
#: how far back, in days, the incomplete sync (and the sensor that asks for it) looks
DAYS_BACK = Bounds(default=2, low=1, high=365)
#: the sync types by name, in the order a full sync takes them
SYNC_TYPE_NAMES: tuple[str, ...] = tuple(str(t) for t in ALL_SYNC_TYPES)


@dataclass(frozen=True)
class SyncOptions:
    page_size: int = PAGE_SIZE.default
    days_back: int = DAYS_BACK.default
    #: orders gathered from several pages into one transaction: large enough that each statement
    #: carries many rows, small enough that memory stays flat however long the history.
    batch_orders: int = 2000
    first_window: timedelta = timedelta(days=90)
    #: each window starts this long before the last one ended, so that nothing is skipped.
    overlap: timedelta = timedelta(minutes=10)
    #: a window ends this long before now, for changes the marketplace has not yet indexed.
    lag: timedelta = timedelta(seconds=30)
