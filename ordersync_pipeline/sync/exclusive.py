"""One sync of a marketplace and type at a time, whoever starts it (a schedule, a backfill, a person).

Dagster's queue already keeps two runs of one partition apart; this holds when something goes
around it. On Postgres a session advisory lock: the server releases it if the process dies. On
SQLite (one host) an exclusive lock on a file beside the database, which the kernel releases the
same way.
"""

from __future__ import annotations

import fcntl
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, text


def _lock_key(marketplace_id: int, sync_type: str) -> int:
    digest = hashlib.sha256(f"ordersync-sync:{marketplace_id}:{sync_type}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def exclusive_sync(engine: Engine, marketplace_id: int, sync_type: str) -> Iterator[None]:
    """Wait until no other sync of this marketplace and type runs on this database, then hold it."""
    if engine.dialect.name == "postgresql":
        key = _lock_key(marketplace_id, sync_type)
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield  # a private in-memory database has no second writer
        return
    lock_path = Path(f"{database}.sync-{marketplace_id}-{sync_type}.lock")
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
