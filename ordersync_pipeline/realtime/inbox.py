"""The notification inbox: a notification is stored before it is answered, processed after.

One row per (marketplace, order): a repeated notification only counts a delivery. A row stays
waiting until its order is written and its stock applied and pushed, so a crash at any point
leaves it for the next start; processing it twice writes nothing new (the syncs' event keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.exc import IntegrityError

from ordersync_pipeline.db.tables import notification_inbox as inbox
from ordersync_pipeline.db.tables import utcnow

#: tries after which an order the marketplace does not know is set aside (kept, with its error)
MAX_ATTEMPTS = 10


@dataclass(frozen=True)
class Waiting:
    id: int
    order_reference: str
    received_at: datetime
    attempts: int


def store(engine: Engine, marketplace_id: int, order_reference: str) -> bool:
    """Store a notification, committed before this returns; False if the order was already in."""
    now = utcnow()
    try:
        with engine.begin() as conn:
            conn.execute(
                inbox.insert().values(
                    marketplace_id=marketplace_id,
                    order_reference=order_reference,
                    received_at=now,
                    deliveries=1,
                    attempts=0,
                )
            )
        return True
    except IntegrityError:
        with engine.begin() as conn:
            conn.execute(
                update(inbox)
                .where(inbox.c.marketplace_id == marketplace_id, inbox.c.order_reference == order_reference)
                .values(deliveries=inbox.c.deliveries + 1)
            )
        return False


def waiting(engine: Engine, marketplace_id: int, limit: int) -> list[Waiting]:
    """The oldest notifications not yet processed, at most ``limit``."""
    query = (
        select(inbox.c.id, inbox.c.order_reference, inbox.c.received_at, inbox.c.attempts)
        .where(inbox.c.marketplace_id == marketplace_id, inbox.c.processed_at.is_(None))
        .order_by(inbox.c.id)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Waiting(r.id, r.order_reference, r.received_at, r.attempts) for r in conn.execute(query)]


def processed(engine: Engine, ids: Sequence[int]) -> None:
    if not ids:
        return
    with engine.begin() as conn:
        conn.execute(update(inbox).where(inbox.c.id.in_(list(ids))).values(processed_at=utcnow(), last_error=None))


def failed(engine: Engine, rows: Sequence[Waiting], error: str, give_up: bool = False) -> None:
    """Count a try that did not finish; with ``give_up``, rows out of tries are set aside with their error."""
    if not rows:
        return
    now = utcnow()
    values = [
        {
            "b_id": row.id,
            "b_attempts": row.attempts + 1,
            "b_done": now if give_up and row.attempts + 1 >= MAX_ATTEMPTS else None,
        }
        for row in rows
    ]
    with engine.begin() as conn:
        conn.execute(
            update(inbox)
            .where(inbox.c.id == bindparam("b_id"))
            .values(attempts=bindparam("b_attempts"), processed_at=bindparam("b_done"), last_error=error[:2000]),
            values,
        )
