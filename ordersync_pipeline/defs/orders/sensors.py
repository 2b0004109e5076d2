"""Sensors: marketplace partitions kept in step with the configuration, and incomplete orders chased."""

import hashlib
import json
import os
from datetime import UTC, datetime, timedelta

from dagster import (
    ConfigurableResource,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)
from pydantic import Field

from ordersync_pipeline.defs.orders.jobs import sync_orders_job
from ordersync_pipeline.defs.partitions import MARKETPLACE_PARTITIONS_NAME, marketplace_partitions, orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces.base import SyncType
from ordersync_pipeline.sync.options import DAYS_BACK
from ordersync_pipeline.sync.queries import incomplete_orders


@sensor(
    name="marketplace_partitions_sensor",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Adds a partition for each active marketplace and removes those of deactivated ones.",
)
def marketplace_partitions_sensor(context: SensorEvaluationContext, database: OrdersyncDatabase):
    # A sensor, not a definitions-time refresh: partitions live in the instance, and only a
    # sensor (or a run) may change them; the code location never writes to the instance.
    wanted = {m.code for m in database.marketplaces()}
    known = set(context.instance.get_dynamic_partitions(MARKETPLACE_PARTITIONS_NAME))
    added, removed = sorted(wanted - known), sorted(known - wanted)
    if not added and not removed:
        return SkipReason(f"partitions match the {len(wanted)} active marketplace(s)")
    requests = []
    if added:
        requests.append(marketplace_partitions.build_add_request(added))
    if removed:
        requests.append(marketplace_partitions.build_delete_request(removed))
    context.log.info(f"marketplace partitions: added {added or 'none'}, removed {removed or 'none'}")
    return SensorResult(dynamic_partitions_requests=requests)


class IncompleteOrdersSettings(ConfigurableResource):
    days_back: int = DAYS_BACK.field("How far back to look for orders missing documents")
    repeat_after_minutes: int = Field(
        default=60, ge=1, description="Before this, the same set of incomplete orders is not asked for again"
    )


def _fingerprint(references: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(references)).encode()).hexdigest()[:16]


SENSOR_NAME = "incomplete_orders_sensor"
UNSUCCESSFUL = {DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}


def _last_request_failed(instance: DagsterInstance, partition_key: str) -> bool:
    """Whether the last run this sensor asked for in the partition failed: then waiting is pointless."""
    runs = instance.get_runs(
        RunsFilter(tags={"dagster/sensor_name": SENSOR_NAME, "dagster/partition": partition_key}), limit=1
    )
    return bool(runs) and runs[0].status in UNSUCCESSFUL


@sensor(
    name=SENSOR_NAME,
    job=sync_orders_job,
    # ORDERSYNC_INCOMPLETE_SENSOR_SECONDS tunes how often the database is looked at.
    minimum_interval_seconds=int(os.environ.get("ORDERSYNC_INCOMPLETE_SENSOR_SECONDS", "120")),
    default_status=DefaultSensorStatus.RUNNING,
    description="Asks for an incomplete sync of the marketplaces that have recent orders missing documents.",
)
def incomplete_orders_sensor(
    context: SensorEvaluationContext, database: OrdersyncDatabase, incomplete_orders_settings: IncompleteOrdersSettings
):
    settings = incomplete_orders_settings
    now = datetime.now(UTC)
    cursor = json.loads(context.cursor) if context.cursor else {}
    requests, notes = [], []
    engine = database.reader()
    for marketplace in database.marketplaces():
        if SyncType.INCOMPLETE not in marketplace.supported:
            continue
        if marketplace.id is None:
            notes.append(f"{marketplace.code}: not synced yet")
            continue
        with engine.connect() as conn:
            rows = incomplete_orders(conn, marketplace.id, marketplace.document_fields, settings.days_back)
        if not rows:
            notes.append(f"{marketplace.code}: no incomplete order")
            cursor.pop(marketplace.code, None)
            continue
        fingerprint = _fingerprint([r.reference for r in rows])
        partition_key = orders_partition_key(marketplace.code, SyncType.INCOMPLETE)
        last = cursor.get(marketplace.code)
        again = ""
        if last and last["fingerprint"] == fingerprint:
            asked = datetime.fromisoformat(last["requested_at"])
            if _last_request_failed(context.instance, str(partition_key)):
                again = " again: the last one failed"
            elif now - asked < timedelta(minutes=settings.repeat_after_minutes):
                notes.append(f"{marketplace.code}: {len(rows)} incomplete order(s), asked for at {asked:%H:%M} UTC")
                continue
        cursor[marketplace.code] = {"fingerprint": fingerprint, "requested_at": now.isoformat()}
        notes.append(f"{marketplace.code}: {len(rows)} incomplete order(s), sync requested{again}")
        requests.append(
            RunRequest(
                run_key=f"{marketplace.code}|incomplete|{fingerprint}|{now:%Y%m%dT%H%M%S}",
                partition_key=partition_key,
                run_config={"ops": {"marketplace_orders": {"config": {"days_back": settings.days_back}}}},
                tags={"ordersync/incomplete_orders": str(len(rows))},
            )
        )
    new_cursor = json.dumps(cursor, sort_keys=True)
    if not requests:
        return SensorResult(
            skip_reason=SkipReason("; ".join(notes) or "no marketplace has an incomplete sync"), cursor=new_cursor
        )
    context.log.info("; ".join(notes))
    return SensorResult(run_requests=requests, cursor=new_cursor)


SENSORS = [marketplace_partitions_sensor, incomplete_orders_sensor]
