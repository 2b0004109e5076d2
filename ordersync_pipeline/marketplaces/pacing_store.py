"""Where an account's request budget is kept, so that every sender of the account takes from one.

A marketplace's ``rate_limit_store`` setting chooses it:

- ``file`` (the default): pyrate-limiter's SQLite bucket in ``rate_limit_file`` (default: the data
  folder), whose file lock makes "count, then take" one step for the processes of one host;
- ``postgres``: pyrate-limiter's Postgres bucket in the order book's own database
  (``ORDERSYNC_DATABASE_URL``), shared by every host that syncs into it; a ``postgresql://`` URL
  names another database instead. The bucket takes its table's lock for "count, then take" and
  stamps requests with the server's clock, so hosts whose clocks differ still count one window.
  It creates its table (``ratelimit___account_<key>``) itself.

``rate_limit_file: null`` with the file store keeps the budget within one process.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from pyrate_limiter import AbstractBucket, InMemoryBucket, PostgresBucket, Rate, SQLiteBucket
from sqlalchemy.engine import make_url

from ordersync_pipeline import settings

FILE, POSTGRES = "file", "postgres"

_pools: dict[str, Any] = {}
_guard = threading.Lock()


class PacingStoreError(ValueError):
    """The marketplace's ``rate_limit_store`` setting names nothing usable."""


def shared_store(marketplace_settings: dict[str, Any], shared_file: Path | None) -> Path | str | None:
    """The store this marketplace's budget is kept in: the SQLite file (or None, this process only)
    for ``file``, a libpq connection string for ``postgres``."""
    value = marketplace_settings.get("rate_limit_store", FILE)
    if value == FILE:
        return shared_file
    url = settings.database_url() if value == POSTGRES else str(value)
    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - any unparsable value gets the same clear error
        parsed = None
    if parsed is None or parsed.get_backend_name() != "postgresql":
        # The URL may hold a password: name the setting, never the value.
        raise PacingStoreError(
            "rate_limit_store must be 'file', 'postgres' (the order book's database, which must then be"
            " Postgres) or a postgresql:// URL"
        )
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def bucket_for(store: Path | str | None, table: str, rate: Rate) -> AbstractBucket:
    """pyrate-limiter's bucket for one account in ``store`` (see ``shared_store``)."""
    if store is None:
        return InMemoryBucket([rate])
    if isinstance(store, Path):
        store.parent.mkdir(parents=True, exist_ok=True)
        return SQLiteBucket.init_from_file([rate], table=table, db_path=str(store), use_file_lock=True)
    return PostgresBucket(_pool(store), table, [rate])


def _pool(conninfo: str) -> Any:
    """One small connection pool per database and process; the sync's page threads share it."""
    from psycopg_pool import ConnectionPool

    with _guard:
        pool = _pools.get(conninfo)
        if pool is None:
            # Not autocommit: the bucket's table lock holds for the transaction of one "count, then take".
            pool = _pools[conninfo] = ConnectionPool(conninfo, min_size=1, max_size=4, open=True)
        return pool
