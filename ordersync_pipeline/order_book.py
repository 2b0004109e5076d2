"""The order book a command or a run works on: the database, migrated, with the marketplaces of the file.

A command or a run opens it when it starts (``OrderBook.open``): the migrations are applied and the
``marketplaces`` rows brought in line with the marketplace file, once per process and again when
the file changes. A schedule or sensor evaluation only reads (``OrderBook.reader``,
``OrderBook.marketplaces``): it never migrates the database nor writes to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Connection, Engine, inspect

from ordersync_pipeline import settings
from ordersync_pipeline.db.engine import shared_engine, upgrade
from ordersync_pipeline.marketplaces.base import SyncType
from ordersync_pipeline.marketplaces.registry import adapter_class, list_marketplaces, load_config, upsert_marketplaces


@dataclass(frozen=True)
class ActiveMarketplace:
    """An active marketplace as schedules, sensors and checks see it: its code, kind and row id."""

    code: str
    kind: str
    #: its ``marketplaces`` row; ``None`` while the file names it but no run has written it yet
    id: int | None = None

    @property
    def supported(self) -> frozenset[SyncType]:
        return adapter_class(self.kind).supported_sync_types

    @property
    def document_fields(self) -> tuple[str, ...]:
        return adapter_class(self.kind).document_fields


@dataclass(frozen=True)
class OrderBook:
    """Where the order book is: its database and the marketplace file its ``marketplaces`` follow.

    Without a URL, ``ORDERSYNC_DATABASE_URL`` or the embedded SQLite file; without a file,
    ``ORDERSYNC_CONFIG`` or the usual places (``settings.config_path``). With ``apply_config``
    off, the rows are left as they are (a database whose marketplaces are written otherwise).
    """

    url: str | None = None
    config_path: str | None = None
    apply_config: bool = True

    @property
    def database_url(self) -> str:
        return self.url or settings.database_url()

    @property
    def config_file(self) -> Path:
        return Path(self.config_path or settings.config_path())

    def open(self) -> Engine:
        """Migrate the database and bring its ``marketplaces`` in line with the file; the engine."""
        engine = _migrated(self.database_url)
        if self.apply_config:
            path = self.config_file
            # Keyed on the file's modification time: an edited file is applied again, without a restart.
            _apply_file(engine, str(path), path.stat().st_mtime_ns if path.exists() else 0)
        return engine

    def reader(self) -> Engine:
        """Return the engine as it is: nothing migrated, nothing written."""
        return shared_engine(self.database_url)

    def marketplaces(self) -> list[ActiveMarketplace]:
        """Read the active marketplaces: the file's (with the ids the rows have already), or,
        when the file is not applied, the rows'."""
        with self.reader().connect() as conn:
            rows = marketplace_rows(conn)
        if not self.apply_config:
            return rows
        ids = {row.code: row.id for row in rows}
        entries = load_config(self.config_file)
        return [ActiveMarketplace(e.code, e.kind, ids.get(e.code)) for e in entries if e.active]


def marketplace_rows(conn: Connection) -> list[ActiveMarketplace]:
    """Read the active ``marketplaces`` rows; none while the database has not been migrated."""
    if not inspect(conn).has_table("marketplaces"):
        return []
    return [ActiveMarketplace(row.code, row.kind, row.id) for row in list_marketplaces(conn)]


@cache
def _migrated(url: str) -> Engine:
    engine = shared_engine(url)
    upgrade(engine)
    return engine


@cache
def _apply_file(engine: Engine, path: str, _mtime_ns: int) -> None:
    upsert_marketplaces(engine, load_config(Path(path)))
