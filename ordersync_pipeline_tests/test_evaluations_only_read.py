"""Schedule and sensor evaluations only read the order book: no migration, no write.

The daemon evaluates them every few seconds; migrating the database or writing the marketplace
file into it is the job of a run or a command when it starts (``order_book.OrderBook.open``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from dagster import (
    AutomationConditionSensorDefinition,
    RunStatusSensorDefinition,
    build_schedule_context,
    build_sensor_context,
    evaluate_automation_conditions,
    instance_for_test,
)
from sqlalchemy import Engine, event, insert
from sqlalchemy.engine import make_url

from ordersync_pipeline.db import tables
from ordersync_pipeline.db.engine import make_engine
from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.alerts import AlertChannel
from ordersync_pipeline.defs.orders.sensors import IncompleteOrdersSettings
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.defs.stock.checks import StockCheckSettings
from ordersync_pipeline.marketplaces.registry import load_config, upsert_marketplaces

TICK = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)
#: the first word of a statement that changes the schema or the rows
CHANGES = ("CREATE", "ALTER", "DROP", "INSERT", "UPDATE", "DELETE", "COPY", "TRUNCATE", "ANALYZE")


@pytest.fixture
def order_book(db_url, tmp_path):
    """A migrated database with the marketplaces of its file and an order missing its documents,
    written directly: as a run leaves it, in another process."""
    config = tmp_path / "marketplaces.yaml"
    config.write_text(
        "marketplaces:\n"
        "  - {code: backmarket-fr, kind: backmarket, base_url: 'http://127.0.0.1:9', token_env: T1}\n"
        "  - {code: refurbed-de, kind: refurbed, base_url: 'http://127.0.0.1:9', token_env: T2}\n"
        "  - {code: refurbed-at, kind: refurbed, base_url: 'http://127.0.0.1:9', token_env: T3}\n"
    )
    engine = make_engine(db_url)
    # The file names one marketplace more than the rows hold: a run has yet to write it.
    upsert_marketplaces(engine, load_config(config)[:2])
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as conn:
        conn.execute(
            insert(tables.orders).values(
                marketplace_id=1,
                reference="1",
                status="accepted",
                marketplace_state="3",
                currency="EUR",
                total_price="10.00",
                created_at=now - timedelta(hours=1),
                modified_at=now,
                synced_at=now,
            )
        )
    engine.dispose()
    return OrdersyncDatabase(url=db_url, config_path=str(config))


@pytest.fixture
def statements(db_url):
    """Every statement any engine of this process sends to the order book's database."""
    seen: list[str] = []
    database = make_url(db_url).database

    def record(conn, cursor, statement, parameters, context, executemany) -> None:
        if conn.engine.url.database == database:
            seen.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_each_schedule_and_sensor_evaluation_reads_the_order_book_and_changes_nothing(order_book, statements):
    resources = {
        "database": order_book,
        "incomplete_orders_settings": IncompleteOrdersSettings(),
        "stock_checks": StockCheckSettings(),
        "alerts": AlertChannel(),
    }
    repository = defs.get_repository_def()
    evaluated = []
    with instance_for_test() as instance:
        # One partition of a marketplace that has left the file, for the partitions sensor to remove.
        instance.add_dynamic_partitions("marketplace", ["backmarket-fr", "refurbed-de", "refurbed-at", "gone-es"])
        for schedule in repository.schedule_defs:
            context = build_schedule_context(
                instance=instance, scheduled_execution_time=TICK, resources=resources, repository_def=repository
            )
            schedule.evaluate_tick(context)
            evaluated.append(schedule.name)
        for sensor in repository.sensor_defs:
            if isinstance(sensor, AutomationConditionSensorDefinition):
                # The daemon evaluates it from the asset graph and the instance alone.
                evaluate_automation_conditions(defs, instance)
                evaluated.append(sensor.name)
                continue
            context = build_sensor_context(instance=instance, resources=resources, repository_def=repository)
            # A run status sensor looks for failed runs (there are none); the others are called as
            # their function, which is what they ask for before Dagster resolves it.
            run_status = isinstance(sensor, RunStatusSensorDefinition)
            result = sensor.evaluate_tick(context) if run_status else sensor(context)
            evaluated.append(sensor.name)
            if sensor.name == "incomplete_orders_sensor":
                assert [r.partition_key for r in result.run_requests] == ["backmarket-fr|incomplete"]
            if sensor.name == "marketplace_partitions_sensor":
                (removed,) = result.dynamic_partitions_requests
                assert removed.partition_keys == ["gone-es"]

    assert sorted(evaluated) == sorted(s.name for s in [*repository.schedule_defs, *repository.sensor_defs])
    assert statements, "the evaluations read the order book"
    changes = [s for s in statements if s.lstrip().split(None, 1)[0].upper() in CHANGES]
    assert changes == []
