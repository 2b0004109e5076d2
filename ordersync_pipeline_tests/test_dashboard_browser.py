"""The Dagster UI in a real browser: headless Chromium (Debian's package) driven by Playwright, on a
webserver serving a test instance. A run of two partitions of one marketplace syncs both; the
figures the asset pages show for each partition are that partition's own sync's, and the run is
shown under its job and can be re-executed. Screenshots are saved in the test's temporary folder
(printed; ``pytest -s`` shows where)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from dagster import DagsterInstance
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import sync_playwright

from ordersync_pipeline.definitions import defs
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.sync.report import SyncReport
from ordersync_pipeline_tests.sync_helpers import TOKEN

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PHONE = {"sku": "IPH13-128-BLK-A", "quantity": 1, "price": "389.00"}
SHIPPED = 3  # a Back Market orderline state the new sync does not list
FIGURES = ("fetched", "created", "updated", "unchanged", "failed", "events", "accepted")
WAIT_MS = 120_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).ok
    except requests.RequestException:
        return False


@pytest.fixture
def dashboard(tmp_path, monkeypatch):
    """A simulator, a run of ``sync_all`` over two partitions recorded in a test instance, and a
    webserver on that instance."""
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("BM_FR_TOKEN", TOKEN)
    with BackMarketSimulator(tokens={TOKEN}, seed=5, orders=0, port=0) as simulator:
        simulator.world.create_order(lines=[PHONE], state=1)  # waiting: the new sync lists it
        for _ in range(3):  # shipped: only the modified sync sees these
            simulator.world.create_order(lines=[PHONE], state=SHIPPED)
        config = tmp_path / "marketplaces.yaml"
        config.write_text(
            "marketplaces:\n"
            f"  - {{code: backmarket-fr, kind: backmarket, base_url: '{simulator.url}', token_env: BM_FR_TOKEN}}\n"
        )
        order_book = f"sqlite:///{tmp_path / 'ordersync.db'}"
        with DagsterInstance.from_config(str(home)) as instance:
            instance.add_dynamic_partitions("marketplace", ["backmarket-fr"])
            reports: list[SyncReport] = []
            run = defs.resolve_job_def("sync_all").execute_in_process(
                instance=instance,
                resources={
                    "database": OrdersyncDatabase(url=order_book, config_path=str(config)),
                    "reports": reports.append,
                },
                tags={
                    "dagster/asset_partition_range_start": "backmarket-fr|new",
                    "dagster/asset_partition_range_end": "backmarket-fr|modified",
                },
            )
            assert run.success
        port = _free_port()
        env = os.environ | {
            "DAGSTER_HOME": str(home),
            "ORDERSYNC_DATABASE_URL": order_book,
            "ORDERSYNC_CONFIG": str(config),
        }
        log = (tmp_path / "webserver.log").open("w")
        server = subprocess.Popen(
            [BIN / "dagster-webserver", "-m", "ordersync_pipeline.definitions", "-h", "127.0.0.1", "-p", str(port)],
            cwd=tmp_path,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while not _answers(f"{url}/server_info"):
                assert server.poll() is None, (tmp_path / "webserver.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the webserver did not answer"
                time.sleep(1)
            yield url, run.run_id, {r.sync_type: r for r in reports}
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
            log.close()


@pytest.fixture
def browser(tmp_path):
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),  # a new profile each time
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 1000},
        )
        try:
            yield context.new_page()
        finally:
            context.close()


def _dismiss_welcome(page) -> None:
    """The UI greets a new browser with a newsletter form over the page, a moment after loading."""
    skip = page.get_by_role("button", name="Skip")
    with contextlib.suppress(PlaywrightTimeout):
        skip.wait_for(state="visible", timeout=10_000)
    if skip.is_visible():
        skip.click()
        skip.wait_for(state="hidden", timeout=WAIT_MS)


def _metadata_on_screen(page) -> dict[str, str]:
    """The partition's materialization metadata, as the page shows it: name, value, name, value."""
    text = page.locator("body").inner_text()
    lines = [line.strip() for line in text.split("Metadata", 1)[1].split("Tags", 1)[0].splitlines()]
    words = [line for line in lines if line]
    return dict(zip(words[0::2], words[1::2], strict=False))


def test_the_asset_pages_show_each_partitions_own_figures_and_the_run_under_its_job(dashboard, browser, tmp_path):
    url, run_id, reports = dashboard
    page = browser
    shots = tmp_path / "screenshots"
    shots.mkdir()
    assert reports["new"].fetched != reports["modified"].fetched  # totals would show on both

    for sync_type in ("new", "modified"):
        partition = f"backmarket-fr|{sync_type}"
        page.goto(f"{url}/assets/marketplace_orders?view=partitions&partition={quote(partition)}")
        page.get_by_text("accepted", exact=True).wait_for(timeout=WAIT_MS)
        page.get_by_text(partition, exact=True).first.wait_for(timeout=WAIT_MS)
        _dismiss_welcome(page)
        shown = _metadata_on_screen(page)
        page.screenshot(path=shots / f"marketplace_orders-{sync_type}.png", full_page=True)
        own = reports[sync_type]
        assert {name: shown.get(name) for name in FIGURES} == {name: str(getattr(own, name)) for name in FIGURES}

    page.goto(f"{url}/runs/{run_id}")
    reexecute = page.get_by_role("button", name="Re-execute all (*)")
    reexecute.wait_for(timeout=WAIT_MS)
    _dismiss_welcome(page)
    assert page.get_by_text("sync_all").first.is_visible()
    assert reexecute.is_enabled()
    page.screenshot(path=shots / "run.png")
    print(f"screenshots in {shots}")
