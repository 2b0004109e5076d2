"""Questions the syncs and sensors ask of the order book."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, or_, select

from ordersync_pipeline.db.tables import (
    marketplaces,
    order_events,
    orders,
    pending_order_events,
    sync_errors,
    utc_naive,
)
from ordersync_pipeline.marketplaces.base import DOCUMENT_FIELDS, OPEN_STATUSES, Status


def incomplete_orders(conn: Connection, marketplace_id: int, document_fields: Sequence[str], days_back: int) -> list:
    """Read the orders created in the last ``days_back`` days that miss one of ``document_fields``.

    Cancelled and refunded orders never get their documents, so they are not asked for.
    Rows carry ``id``, ``reference`` and every document field.
    """
    since = utc_naive(datetime.now(UTC) - timedelta(days=days_back))
    query = (
        select(orders.c.id, orders.c.reference, *(orders.c[name] for name in DOCUMENT_FIELDS))
        .where(
            orders.c.marketplace_id == marketplace_id,
            orders.c.created_at >= since,
            or_(*(orders.c[name].is_(None) for name in document_fields)),
            orders.c.status.not_in([Status.CANCELLED, Status.REFUNDED]),
        )
        .order_by(orders.c.id)
    )
    return list(conn.execute(query))


def open_order_references(conn: Connection, marketplace_id: int) -> list[str]:
    """Read the references of the orders the database still holds open (pending payment, paid, accepted)."""
    query = select(orders.c.reference).where(
        orders.c.marketplace_id == marketplace_id, orders.c.status.in_([str(s) for s in OPEN_STATUSES])
    )
    return list(conn.execute(query).scalars())


@dataclass(frozen=True)
class SyncErrorRow:
    marketplace: str
    sync_type: str
    reference: str | None
    error: str
    created_at: datetime


def unresolved_sync_errors(conn: Connection, limit: int = 50) -> tuple[int, list[SyncErrorRow]]:
    """Count the records that wait in ``sync_errors`` (a good sync of the order clears its rows), and the
    oldest ``limit`` of them."""
    total = conn.execute(select(func.count()).select_from(sync_errors)).scalar_one()
    query = (
        select(
            marketplaces.c.code,
            sync_errors.c.sync_type,
            sync_errors.c.reference,
            sync_errors.c.error,
            sync_errors.c.created_at,
        )
        .join(marketplaces, marketplaces.c.id == sync_errors.c.marketplace_id)
        .order_by(sync_errors.c.created_at, sync_errors.c.id)
        .limit(limit)
    )
    return total, [SyncErrorRow(*row) for row in conn.execute(query)]


@dataclass(frozen=True)
class PendingEvents:
    count: int
    #: when the oldest event still waiting to be applied was written (UTC, naive), if any waits
    oldest_created_at: datetime | None

    def oldest_age(self, now: datetime | None = None) -> timedelta | None:
        if self.oldest_created_at is None:
            return None
        return max(timedelta(0), (now or datetime.now(UTC).replace(tzinfo=None)) - self.oldest_created_at)


def pending_events(conn: Connection) -> PendingEvents:
    """Count the events the stock has yet to apply, and read the oldest one's time."""
    count, oldest = conn.execute(
        select(func.count(), func.min(order_events.c.created_at)).select_from(
            pending_order_events.join(order_events, order_events.c.id == pending_order_events.c.event_id)
        )
    ).one()
    return PendingEvents(count, oldest)
