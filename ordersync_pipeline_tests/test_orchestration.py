"""Schedule and sensor ticks against a real Dagster instance: the exact runs they ask for."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dagster import (
    DagsterInstance,
    SensorResult,
    SkipReason,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)
from sqlalchemy import insert

from ordersync_pipeline.db import tables
from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.orders.schedules import SCHEDULES, sync_all_schedule
from ordersync_pipeline.defs.orders.sensors import (
    IncompleteOrdersSettings,
    incomplete_orders_sensor,
    marketplace_partitions_sensor,
)
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.marketplaces import registry
from ordersync_pipeline.marketplaces.backmarket.adapter import BackMarketAdapter
from ordersync_pipeline.marketplaces.base import SyncType

TICK = datetime(2026, 11, 24, 10, 30, tzinfo=UTC)


class NoCareAdapter(BackMarketAdapter):
    """A marketplace kind without after-sales records."""

    supported_sync_types = BackMarketAdapter.supported_sync_types - {SyncType.CARE}


@pytest.fixture
def database(db_url, tmp_path, monkeypatch):
    monkeypatch.setitem(registry.ADAPTERS, "nocare", f"{__name__}:NoCareAdapter")
    config = tmp_path / "marketplaces.yaml"
    config.write_text(
        "marketplaces:\n"
        "  - {code: backmarket-fr, kind: backmarket, base_url: 'http://127.0.0.1:9', token_env: T1}\n"
        "  - {code: nocare-de, kind: nocare, base_url: 'http://127.0.0.1:9', token_env: T2}\n"
        "  - {code: backmarket-es, kind: backmarket, base_url: 'http://127.0.0.1:9', token_env: T3, active: false}\n"
    )
    return OrdersyncDatabase(url=db_url, config_path=str(config))


@pytest.fixture
def instance():
    with instance_for_test() as instance:
        yield instance


def _schedule(name):
    (found,) = [s for s in SCHEDULES if s.name == name]
    return found


def _tick(schedule, instance: DagsterInstance, database):
    instance.add_dynamic_partitions("marketplace", ["backmarket-fr", "nocare-de"])
    context = build_schedule_context(
        instance=instance,
        scheduled_execution_time=TICK,
        resources={"database": database},
        repository_def=defs.get_repository_def(),
    )
    # evaluate_tick checks each request against the job and its partitions, as the daemon does.
    return list(schedule.evaluate_tick(context).run_requests or [])


@pytest.mark.parametrize(
    "sync_type, marketplaces",
    [
        ("new", ["backmarket-fr", "nocare-de"]),
        ("modified", ["backmarket-fr", "nocare-de"]),
        ("care", ["backmarket-fr"]),  # none for the marketplace without care
        ("incomplete", ["backmarket-fr", "nocare-de"]),
    ],
)
def test_each_schedule_asks_one_run_per_active_marketplace_that_supports_its_type(
    sync_type, marketplaces, instance, database
):
    requests = _tick(_schedule(f"sync_{sync_type}_schedule"), instance, database)

    assert [r.partition_key for r in requests] == [f"{code}|{sync_type}" for code in marketplaces]
    assert [r.run_key for r in requests] == [f"2026-11-24T10:30|{code}|{sync_type}" for code in marketplaces]
    # The same tick evaluated again asks for the same run keys, which Dagster launches once.
    assert [r.run_key for r in _tick(_schedule(f"sync_{sync_type}_schedule"), instance, database)] == [
        r.run_key for r in requests
    ]


def test_schedule_cadence_is_the_old_schedulers():
    assert {s.name: s.cron_schedule for s in SCHEDULES} == {
        "sync_new_schedule": "*/5 * * * *",
        "sync_modified_schedule": "0 * * * *",
        "sync_care_schedule": "15 * * * *",
        "sync_incomplete_schedule": "*/30 * * * *",
        "sync_all_schedule": "30 * * * *",
    }
    assert sync_all_schedule.default_status.value == "STOPPED"


def test_sync_all_asks_one_run_per_marketplace_covering_its_four_types(instance, database):
    requests = _tick(sync_all_schedule, instance, database)

    assert [
        (r.tags["dagster/asset_partition_range_start"], r.tags["dagster/asset_partition_range_end"]) for r in requests
    ] == [("backmarket-fr|new", "backmarket-fr|incomplete"), ("nocare-de|new", "nocare-de|incomplete")]


def test_the_partitions_sensor_adds_active_marketplaces_and_removes_deactivated_ones(instance, database):
    instance.add_dynamic_partitions("marketplace", ["backmarket-es", "backmarket-fr"])

    result = marketplace_partitions_sensor(build_sensor_context(instance=instance, resources={"database": database}))

    assert isinstance(result, SensorResult)
    (added, removed) = result.dynamic_partitions_requests
    assert (added.partition_keys, removed.partition_keys) == (["nocare-de"], ["backmarket-es"])


def _add_order(database, code: str, reference: str, **values) -> None:
    engine = database.engine()
    with engine.begin() as conn:
        marketplace_id = conn.execute(tables.marketplaces.select().where(tables.marketplaces.c.code == code)).one().id
        now = datetime.now(UTC).replace(tzinfo=None)
        conn.execute(
            insert(tables.orders).values(
                {
                    "marketplace_id": marketplace_id,
                    "reference": reference,
                    "status": "accepted",
                    "marketplace_state": "3",
                    "currency": "EUR",
                    "total_price": "10.00",
                    "created_at": now - timedelta(hours=3),
                    "modified_at": now,
                    "synced_at": now,
                }
                | values
            )
        )


def _sense(instance, database, cursor=None, repeat_after_minutes=60):
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources={
            "database": database,
            "incomplete_orders_settings": IncompleteOrdersSettings(repeat_after_minutes=repeat_after_minutes),
        },
    )
    return incomplete_orders_sensor(context)


def test_the_incomplete_sensor_asks_nothing_when_every_order_is_complete(instance, database):
    _add_order(database, "backmarket-fr", "1", delivery_note_url="https://n/1.pdf", label_url="https://l/1.pdf")
    _add_order(database, "nocare-de", "2", created_at=datetime(2026, 1, 1))  # incomplete but too old
    _add_order(database, "nocare-de", "3", status="cancelled")  # cancelled orders get no documents

    result = _sense(instance, database)

    assert result.run_requests == []
    assert "backmarket-fr: no incomplete order" in result.skip_reason.skip_message
    assert "nocare-de: no incomplete order" in result.skip_reason.skip_message


def test_the_incomplete_sensor_asks_only_for_marketplaces_with_incomplete_orders_and_not_twice(instance, database):
    _add_order(database, "backmarket-fr", "1", delivery_note_url="https://n/1.pdf")  # no label yet
    _add_order(database, "nocare-de", "2", delivery_note_url="https://n/2.pdf", label_url="https://l/2.pdf")

    first = _sense(instance, database)

    (request,) = first.run_requests
    assert request.partition_key == "backmarket-fr|incomplete"
    assert request.run_config == {"ops": {"marketplace_orders": {"config": {"days_back": 2}}}}

    again = _sense(instance, database, cursor=first.cursor)
    assert again.run_requests == []
    assert "backmarket-fr: 1 incomplete order(s), asked for at" in again.skip_reason.skip_message

    _add_order(database, "backmarket-fr", "4")  # the set changed: ask again at once
    (changed,) = _sense(instance, database, cursor=again.cursor).run_requests
    assert changed.partition_key == "backmarket-fr|incomplete"


def test_the_incomplete_sensor_asks_again_for_the_same_set_after_the_interval(instance, database):
    _add_order(database, "backmarket-fr", "1")
    first = _sense(instance, database)
    stored = json.loads(first.cursor)
    stored["backmarket-fr"]["requested_at"] = (datetime.now(UTC) - timedelta(minutes=61)).isoformat()

    (request,) = _sense(instance, database, cursor=json.dumps(stored)).run_requests
    assert request.partition_key == "backmarket-fr|incomplete"


def test_the_incomplete_sensor_asks_again_at_once_when_the_run_it_asked_for_failed(instance, database, monkeypatch):
    _add_order(database, "backmarket-fr", "1")
    first = _sense(instance, database)
    (request,) = first.run_requests
    # The run it asked for, as the daemon would launch it; the marketplace cannot be reached.
    monkeypatch.setenv("T1", "token")
    instance.add_dynamic_partitions("marketplace", ["backmarket-fr"])
    failed = defs.resolve_job_def("sync_orders").execute_in_process(
        instance=instance,
        partition_key=request.partition_key,
        run_config={"ops": {"marketplace_orders": {"config": {"retries": 0}}}},
        resources={"database": database},
        tags={"dagster/sensor_name": "incomplete_orders_sensor"},
        raise_on_error=False,
    )
    assert not failed.success

    (again,) = _sense(instance, database, cursor=first.cursor).run_requests
    assert again.partition_key == "backmarket-fr|incomplete"


def test_a_deactivated_marketplace_gets_no_schedule_run(instance, database):
    config = Path(database.config_path)
    config.write_text(config.read_text().replace("kind: nocare,", "kind: nocare, active: false,"))
    requests = _tick(_schedule("sync_new_schedule"), instance, database)
    assert [r.partition_key for r in requests] == ["backmarket-fr|new"]
    assert not isinstance(requests, SkipReason)
