"""Partitions: one key per active marketplace code × sync type; keys read ``backmarket-fr|new``."""

from dagster import (
    DynamicPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
)

from ordersync_pipeline.marketplaces.base import ALL_SYNC_TYPES

MARKETPLACE_PARTITIONS_NAME = "marketplace"

marketplace_partitions = DynamicPartitionsDefinition(name=MARKETPLACE_PARTITIONS_NAME)
sync_type_partitions = StaticPartitionsDefinition([str(t) for t in ALL_SYNC_TYPES])
orders_partitions = MultiPartitionsDefinition(
    {"marketplace": marketplace_partitions, "sync_type": sync_type_partitions}
)


def orders_partition_key(marketplace_code: str, sync_type: str) -> MultiPartitionKey:
    return MultiPartitionKey({"marketplace": marketplace_code, "sync_type": str(sync_type)})
