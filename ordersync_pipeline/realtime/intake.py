"""Taking orders in as the syncs do: the same diff, writes and event keys, the same acceptance.

``write`` runs the syncs' own ``prepare_orders``/``write_prepared``, so an order taken in here is
one a scheduled sync later finds unchanged (its events have the same keys, whoever writes first).
``accept`` accepts the paid items that are still waiting, as the new sync does, and holds the new
sync's exclusive lock while it does: an item is accepted once, whichever of the two comes first.
It holds the modified sync's lock too: a modified sync that read an order before the acceptance
would, writing it after, take back the item's status and acceptance time. So an acceptance waits
for a modified sync under way (the stock is pushed before, and does not wait).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import Engine

from ordersync_pipeline.marketplaces.base import ListedOrder, MarketplaceAdapter, Order, RecordError, Status, SyncType
from ordersync_pipeline.sync.exclusive import exclusive_sync
from ordersync_pipeline.sync.order_writer import BatchResult, prepare_orders, record_errors, write_prepared
from ordersync_pipeline.sync.runner import MarketplaceRef, accept_items


@dataclass
class Intake:
    """What one take-in wrote."""

    orders: int = 0
    created: int = 0
    updated: int = 0
    events: int = 0
    accepted: int = 0
    errors: list[str] = field(default_factory=list)
    #: the orders read (parsed), for the acceptance
    read: list[Order] = field(default_factory=list)
    result: BatchResult | None = None


def write(
    engine: Engine,
    marketplace: MarketplaceRef,
    batch: Sequence[Order | ListedOrder],
    errors: Sequence[RecordError] = (),
    sync_type: SyncType = SyncType.NEW,
) -> Intake:
    """Write ``batch`` (and keep ``errors``) in one transaction, as a sync's batch is written."""
    intake = Intake(orders=len(batch))
    with engine.begin() as conn:
        ready = prepare_orders(conn, marketplace.id, batch)
        result = write_prepared(conn, ready)
        # After the write, which cleared the orders' earlier errors (as the syncs do).
        record_errors(conn, marketplace.id, sync_type, [*errors, *ready.errors, *ready.unstockable])
    intake.created, intake.updated, intake.events = result.created, result.updated, result.events
    intake.errors = [f"order {e.reference or '?'}: {e.error}" for e in [*errors, *ready.errors]]
    intake.read, intake.result = ready.read, result
    return intake


def accept(engine: Engine, marketplace: MarketplaceRef, adapter: MarketplaceAdapter, intake: Intake) -> None:
    """Accept the paid items of the orders ``intake`` read that nobody has accepted yet."""
    paid = [order for order in intake.read if any(item.status == Status.PAID for item in order.items)]
    if not paid:
        return
    with (
        exclusive_sync(engine, marketplace.id, SyncType.NEW),
        exclusive_sync(engine, marketplace.id, SyncType.MODIFIED),
    ):
        # Under the new sync's lock, read again what is accepted: a sync may have just done it.
        with engine.connect() as conn:
            done = prepare_orders(conn, marketplace.id, paid).result.accepted
        waiting = []
        for order in paid:
            items = [
                i for i in order.items if i.status == Status.PAID and i.reference not in done.get(order.reference, ())
            ]
            if items:
                waiting.append((order, items))
        if not waiting:
            return
        accepted = accept_items(adapter, waiting)
        intake.accepted += accepted.count
        with engine.begin() as conn:
            ready = prepare_orders(conn, marketplace.id, accepted.orders, accepted.items)
            result = write_prepared(conn, ready)
            record_errors(conn, marketplace.id, SyncType.NEW, [*accepted.errors, *ready.unstockable])
    intake.events += result.events
    intake.errors.extend(f"order {e.reference}: {e.error}" for e in accepted.errors)
