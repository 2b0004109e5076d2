"""A crash between storing a notification and processing it: ``ordersync realtime`` is killed
(``kill -9``) after it answered, before it could read the order; the next start takes it in."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest
import yaml

from ordersync_pipeline_tests.realtime_helpers import LINE, SECRET_ENV, notify, open_shop, wait_for


@pytest.fixture
def shop(engine, monkeypatch):
    shop = open_shop(engine, monkeypatch)
    with shop.stack:
        yield shop


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_a_notification_stored_before_a_crash_is_processed_after_the_restart(shop, db_url, tmp_path):
    env = _environment(shop, db_url, tmp_path)
    port = _free_port()
    assert env[SECRET_ENV]
    # Refurbed cannot be read: the order is stored, but never taken in by this process.
    shop.rb.simulator.faults.configure(fail_next=1_000_000)
    order = shop.rb.world.create_order(lines=[LINE], state="NEW")
    command = [sys.executable, "-m", "ordersync_pipeline.cli", "realtime", "--no-watch", "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: _listening(port) or process.poll() is not None, timeout=120, what="the receiver listening")
        assert process.poll() is None, process.stdout.read().decode()
        assert notify(f"http://127.0.0.1:{port}", order) == (200, {"stored": True})
        # Committed before the answer: there as soon as the answer is.
        assert [row.order_reference for row in shop.inbox()] == [str(order)]
        wait_for(lambda: shop.inbox()[0].attempts >= 1, what="a try to read the order")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()

    (row,) = shop.inbox()
    assert row.order_reference == str(order) and row.processed_at is None
    assert shop.events() == [] and shop.listed() == (3, 2)

    shop.rb.simulator.faults.configure(fail_next=0)
    shop.service(watch=False)
    wait_for(lambda: shop.inbox()[0].processed_at, what="the stored notification processed after the restart")
    wait_for(lambda: shop.listed() == (2, 2), what="Back Market's listing lowered")
    assert shop.events() == [(str(order), "OrderCreated"), (str(order), "OrderStatusChanged")]
    assert list(shop.rb.world.accept_calls.values()) == [1]


def _environment(shop, db_url, tmp_path) -> dict[str, str]:
    rows = [shop.bm.row(), shop.rb.row()]
    config = tmp_path / "marketplaces.yaml"
    entries = [
        {"code": r.code, "kind": r.kind, "base_url": r.base_url, "token_env": r.token_env, "settings": r.settings}
        for r in rows
    ]
    config.write_text(yaml.safe_dump({"marketplaces": entries}))
    (tmp_path / "dagster_home").mkdir(exist_ok=True)
    return {
        **os.environ,
        "ORDERSYNC_DATABASE_URL": db_url,
        "ORDERSYNC_CONFIG": str(config),
        "DAGSTER_HOME": str(tmp_path / "dagster_home"),
    }


def test_a_missing_secret_or_a_taken_port_is_one_line_and_exit_status_1(shop, db_url, tmp_path):
    env = _environment(shop, db_url, tmp_path)
    command = [sys.executable, "-m", "ordersync_pipeline.cli", "realtime", "--port"]
    unset = {k: v for k, v in env.items() if k != SECRET_ENV}
    done = subprocess.run([*command, str(_free_port())], env=unset, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: marketplace refurbed-de: environment variable {SECRET_ENV} is not set"
        " (it holds the notification secret)"
    ]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run([*command, str(port)], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: the notification receiver cannot listen on 127.0.0.1:{port} (")
