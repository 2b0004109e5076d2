"""``ordersync demo --ui`` for real: the scripted demo, then ``dagster dev`` on its order book with
the simulators live. A scheduled sync lands; stopping the Back Market simulator (Enter) makes the
next one fail, and the failure alert reaches a webhook; Ctrl-C stops everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from sqlalchemy import create_engine, func, select

from ordersync_pipeline.db import tables
from ordersync_pipeline_tests.webhook import Webhook

BIN = Path(sys.executable).parent
SCHEDULED_NEW = {"dagster/schedule_name": "sync_new_schedule", "dagster/partition": "backmarket-fr|new"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(what: str, condition, process: subprocess.Popen, log: Path, timeout: float = 300.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the demo ended while waiting for {what}:\n{log.read_text()[-3000:]}"
        value = condition()
        if value:
            return value
        time.sleep(2)
    raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()[-3000:]}")


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


def _processes_naming(text: str) -> list[int]:
    """Processes whose command line holds ``text`` (the test's folder: the demo and its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
    return found


# The scripted demo, then a minute's schedule tick twice, on a machine that may be busy.
@pytest.mark.timeout(900)
def test_demo_ui_runs_the_schedules_on_the_demos_order_book_and_alerts_on_a_stopped_simulator(tmp_path):
    webhook = Webhook().start()
    port = _free_port()
    data = tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "ORDERSYNC_"))}
    env |= {"ORDERSYNC_DATA_DIR": str(data), "ORDERSYNC_ALERT_WEBHOOK_URL": webhook.url}
    log_path = tmp_path / "demo.log"
    log = log_path.open("w")
    demo = subprocess.Popen(
        [BIN / "ordersync", "demo", "--steps", "1", "--orders", "5", "--free-ports", "--ui", "--ui-port", str(port)],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.PIPE,
        stdout=log,
        stderr=log,
    )
    instance = None
    try:
        _wait("the webserver", lambda: _answers(f"http://127.0.0.1:{port}/server_info"), demo, log_path)
        instance = DagsterInstance.from_config(str(data / "dagster_home"))  # the demo's own instance

        def runs(status):
            return [r for r in instance.get_runs(RunsFilter(tags=SCHEDULED_NEW)) if r.status == status]

        _wait("a scheduled new sync that succeeded", lambda: runs(DagsterRunStatus.SUCCESS), demo, log_path)
        # It synced the demo's order book, with the simulators behind it: no other database exists.
        assert not (data / "ordersync.db").exists()
        assert "127.0.0.1:8710" not in (data / "demo" / "marketplaces.yaml").read_text()  # free ports
        book = create_engine(f"sqlite:///{data / 'demo' / 'ordersync.db'}")
        with book.connect() as conn:
            assert conn.execute(select(func.count()).select_from(tables.orders)).scalar_one() > 0
        book.dispose()

        demo.stdin.write(b"\n")  # stop the Back Market simulator
        demo.stdin.flush()
        _wait("a scheduled new sync that failed", lambda: runs(DagsterRunStatus.FAILURE), demo, log_path)
        alerts = _wait(
            "the failure alert",
            lambda: [a for a in webhook.received if a["partition"] == "backmarket-fr|new"],
            demo,
            log_path,
        )
        assert alerts[0]["job"] == "sync_orders" and "cannot reach" in alerts[0]["reason"]
        assert alerts[0]["url"] == f"http://127.0.0.1:{port}/runs/{alerts[0]['run_id']}"
    finally:
        demo.send_signal(signal.SIGINT)  # Ctrl-C
        try:
            status = demo.wait(timeout=180)
        finally:
            for pid in _processes_naming(str(tmp_path)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            log.close()
            webhook.stop()
            if instance is not None:
                instance.dispose()
    assert status == 0
    assert _processes_naming(str(tmp_path)) == []
    assert not _answers(f"http://127.0.0.1:{port}/server_info")
