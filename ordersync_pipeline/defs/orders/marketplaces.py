"""The active marketplaces as the schedules and sensors see them, with the sync types each supports."""

from dataclasses import dataclass

from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces.base import SyncType
from ordersync_pipeline.marketplaces.registry import adapter_class, list_marketplaces


@dataclass(frozen=True)
class ActiveMarketplace:
    id: int
    code: str
    supported: frozenset[SyncType]
    document_fields: tuple[str, ...]


def active_marketplaces(database: OrdersyncDatabase) -> list[ActiveMarketplace]:
    with database.engine().connect() as conn:
        rows = list_marketplaces(conn)
    result = []
    for row in rows:
        adapter = adapter_class(row.kind)
        result.append(ActiveMarketplace(row.id, row.code, adapter.supported_sync_types, adapter.document_fields))
    return result
