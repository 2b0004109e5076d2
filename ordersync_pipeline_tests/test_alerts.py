"""The run failure alert, evaluated as the daemon evaluates it, against a real Dagster instance and
a real HTTP server on loopback standing for the chat tool's webhook."""

from __future__ import annotations

import pytest
from dagster import build_sensor_context, instance_for_test

from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.alerts import WEBHOOK_ENV, AlertChannel, run_failure_alert
from ordersync_pipeline.defs.partitions import orders_partition_key
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline_tests.webhook import Webhook


@pytest.fixture
def webhook():
    hook = Webhook().start()
    yield hook
    hook.stop()


@pytest.fixture
def setup(tmp_path, monkeypatch):
    monkeypatch.setenv("BM_TOKEN", "token")
    monkeypatch.delenv(WEBHOOK_ENV, raising=False)
    config = tmp_path / "marketplaces.yaml"
    config.write_text(  # nothing listens there: every sync fails
        "marketplaces:\n"
        "  - {code: backmarket-fr, kind: backmarket, base_url: 'http://127.0.0.1:9', token_env: BM_TOKEN,\n"
        "     settings: {max_retries: 0, backoff_factor: 0}}\n"
    )
    database = OrdersyncDatabase(url=f"sqlite:///{tmp_path / 'book.db'}", config_path=str(config))
    with instance_for_test() as instance:
        instance.add_dynamic_partitions("marketplace", ["backmarket-fr"])
        yield instance, database


def _failed_sync(instance, database):
    result = defs.resolve_job_def("sync_orders").execute_in_process(
        instance=instance,
        partition_key=str(orders_partition_key("backmarket-fr", "new")),
        resources={"database": database},
        run_config={"ops": {"marketplace_orders": {"config": {"retries": 0}}}},
        raise_on_error=False,
    )
    assert not result.success
    return result.run_id


def _tick(instance, channel: AlertChannel, cursor: str | None = None):
    context = build_sensor_context(
        instance=instance, cursor=cursor, resources={"alerts": channel}, repository_def=defs.get_repository_def()
    )
    return run_failure_alert.evaluate_tick(context)


def test_a_failed_sync_is_posted_to_the_webhook_with_its_job_partition_and_reason(setup, webhook):
    instance, database = setup
    channel = AlertChannel(webhook_url=webhook.url, ui_url="http://ui.example:3000")
    first = _tick(instance, channel)  # the sensor starts from now, as on a new daemon
    run_id = _failed_sync(instance, database)

    _tick(instance, channel, first.cursor)

    (alert,) = webhook.received
    assert alert["job"] == "sync_orders" and alert["partition"] == "backmarket-fr|new"
    assert alert["run_id"] == run_id and alert["url"] == f"http://ui.example:3000/runs/{run_id}"
    assert "backmarket-fr" in alert["reason"]
    assert alert["text"].startswith("ordersync: run of sync_orders backmarket-fr|new failed: ")


def test_the_webhook_comes_from_the_environment_and_a_successful_run_alerts_nobody(setup, webhook, monkeypatch):
    instance, database = setup
    monkeypatch.setenv(WEBHOOK_ENV, webhook.url)
    first = _tick(instance, AlertChannel())
    ok = defs.resolve_job_def("watch_orders").execute_in_process(instance=instance, resources={"database": database})
    assert ok.success
    second = _tick(instance, AlertChannel(), first.cursor)
    assert webhook.received == []

    _failed_sync(instance, database)
    _tick(instance, AlertChannel(), second.cursor)
    assert [a["job"] for a in webhook.received] == ["sync_orders"]


def test_without_a_webhook_the_alert_is_logged(setup, capfd):
    instance, database = setup
    first = _tick(instance, AlertChannel())
    _failed_sync(instance, database)
    capfd.readouterr()

    _tick(instance, AlertChannel(), first.cursor)

    logged = capfd.readouterr().err
    assert "WARNING - ALERT (no webhook configured" in logged
    assert "run of sync_orders backmarket-fr|new failed" in logged


def test_a_webhook_that_fails_for_a_while_gets_the_alert_once_it_answers(setup, webhook):
    instance, database = setup
    channel = AlertChannel(webhook_url=webhook.url, retry_backoff_seconds=0.01)
    first = _tick(instance, channel)
    _failed_sync(instance, database)
    webhook.statuses = [503, 502]  # two refusals, then 200

    _tick(instance, channel, first.cursor)

    assert len(webhook.received) == 3 and len({a["run_id"] for a in webhook.received}) == 1


def test_a_webhook_that_keeps_refusing_shows_on_the_tick_without_its_url(setup, webhook):
    instance, database = setup
    channel = AlertChannel(webhook_url=webhook.url, retries=1, retry_backoff_seconds=0.01)
    first = _tick(instance, channel)
    _failed_sync(instance, database)
    webhook.status = 503

    tick = _tick(instance, channel, first.cursor)

    (reaction,) = tick.dagster_run_reactions
    error = reaction.error.to_string()
    assert "the alert webhook answered HTTP 503" in error and "secret-part" not in error
