"""Alerts: a failed run is told to someone, through a webhook, without anyone watching the UI.

The channel is a webhook URL (``ORDERSYNC_ALERT_WEBHOOK_URL``; Slack, Teams, Mattermost and most
chat tools take a JSON ``text``); without one the alert goes to the sensor's log, visible on its
ticks. The URL often holds a secret, so it is never logged.
"""

from __future__ import annotations

import logging
import os

import requests
from dagster import (
    ConfigurableResource,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)
from pydantic import Field
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

from ordersync_pipeline.defs.failures import failure_reason

WEBHOOK_ENV = "ORDERSYNC_ALERT_WEBHOOK_URL"
UI_URL_ENV = "ORDERSYNC_UI_URL"


class AlertDeliveryError(Exception):
    """The webhook did not take the alert, after retries; the sensor's tick shows this error."""


class AlertChannel(ConfigurableResource):
    """Where alerts go. Without a URL here, ``ORDERSYNC_ALERT_WEBHOOK_URL``; without either, the log."""

    webhook_url: str | None = Field(default=None, description=f"Webhook to POST alerts to; default from {WEBHOOK_ENV}")
    ui_url: str | None = Field(default=None, description=f"The Dagster UI's address, for links; default {UI_URL_ENV}")
    timeout_seconds: float = Field(default=10.0, gt=0)
    retries: int = Field(default=3, ge=0, description="Tries again on no answer, 429 or 5xx, with backoff")
    retry_backoff_seconds: float = Field(default=1.0, ge=0)

    def run_link(self, run_id: str) -> str | None:
        base = self.ui_url or os.environ.get(UI_URL_ENV)
        return f"{base.rstrip('/')}/runs/{run_id}" if base else None

    def notify(self, text: str, details: dict, log: logging.Logger) -> None:
        url = self.webhook_url or os.environ.get(WEBHOOK_ENV)
        if not url:
            log.warning(f"ALERT (no webhook configured, set {WEBHOOK_ENV}): {text}")
            return
        retry = Retry(
            total=self.retries,
            backoff_factor=self.retry_backoff_seconds,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=None,  # a duplicate alert is better than a lost one
            raise_on_status=False,
        )
        with requests.Session() as session:
            session.mount(url, HTTPAdapter(max_retries=retry))
            try:
                answer = session.post(url, json={"text": text, **details}, timeout=self.timeout_seconds)
            except requests.RequestException as exc:
                # The exception's text names the URL: keep only its kind.
                raise AlertDeliveryError(f"the alert webhook could not be reached ({type(exc).__name__})") from None
        if not answer.ok:
            raise AlertDeliveryError(f"the alert webhook answered HTTP {answer.status_code}")
        log.info(f"alert sent: {text}")


def alert_text(job: str, partition: str | None, reason: str) -> str:
    where = f" {partition}" if partition else ""
    return f"ordersync: run of {job}{where} failed: {reason}"


@run_failure_sensor(
    name="run_failure_alert",
    # Every job of this code location: the syncs, the stock runs (the automation sensor's and the
    # command line's), the checks.
    monitored_jobs=None,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description=f"Tells the alert channel ({WEBHOOK_ENV}, else the log) about every failed run.",
)
def run_failure_alert(context: RunFailureSensorContext, alerts: AlertChannel) -> None:
    run = context.dagster_run
    partition = run.tags.get("dagster/partition") or _range(run.tags)
    reason = failure_reason(context.get_step_failure_events()) or context.failure_event.message or "the run failed"
    details = {"run_id": run.run_id, "job": run.job_name, "partition": partition, "reason": reason}
    link = alerts.run_link(run.run_id)
    if link:
        details["url"] = link
    text = alert_text(run.job_name, partition, reason) + (f" ({link})" if link else "")
    alerts.notify(text, details, context.log)


def _range(tags: dict) -> str | None:
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    return f"{start}...{end}" if start and end else None
