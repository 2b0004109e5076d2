"""Per marketplace and sync type, where the last complete sync got to."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, select

from ordersync_pipeline.db.statements import upsert
from ordersync_pipeline.db.tables import sync_cursors, utcnow


def load_cursor(conn: Connection, marketplace_id: int, sync_type: str) -> datetime | None:
    value = conn.execute(
        select(sync_cursors.c.cursor).where(
            sync_cursors.c.marketplace_id == marketplace_id, sync_cursors.c.sync_type == sync_type
        )
    ).scalar()
    return datetime.fromisoformat(value).astimezone(UTC) if value else None


def save_cursor(conn: Connection, marketplace_id: int, sync_type: str, value: datetime) -> None:
    """Called only once the data up to ``value`` is committed."""
    upsert(
        conn,
        sync_cursors,
        [
            {
                "marketplace_id": marketplace_id,
                "sync_type": sync_type,
                "cursor": value.astimezone(UTC).isoformat(),
                "updated_at": utcnow(),
            }
        ],
        conflict=("marketplace_id", "sync_type"),
        update=("cursor", "updated_at"),
    )
