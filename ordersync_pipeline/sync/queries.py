"""Questions the syncs and sensors ask of the order book."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, or_, select

from ordersync_pipeline.db.tables import orders, utc_naive
from ordersync_pipeline.marketplaces.base import OPEN_STATUSES, Status

DOCUMENTS = ("delivery_note_url", "label_url", "tracking_number")


def incomplete_orders(conn: Connection, marketplace_id: int, document_fields: Sequence[str], days_back: int) -> list:
    """Orders created in the last ``days_back`` days that miss one of ``document_fields``.

    Cancelled and refunded orders never get their documents, so they are not asked for.
    Rows carry ``id``, ``reference`` and every document field.
    """
    since = utc_naive(datetime.now(UTC) - timedelta(days=days_back))
    query = (
        select(orders.c.id, orders.c.reference, *(orders.c[name] for name in DOCUMENTS))
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
    """References of the orders the database still holds open (pending payment, paid, accepted)."""
    query = select(orders.c.reference).where(
        orders.c.marketplace_id == marketplace_id, orders.c.status.in_([str(s) for s in OPEN_STATUSES])
    )
    return list(conn.execute(query).scalars())
