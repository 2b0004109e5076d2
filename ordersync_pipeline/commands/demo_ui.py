"""``ordersync demo --ui``: the Dagster UI and daemon on the demo's order book, with its simulators live.

The webserver and the daemon (``dagster dev``) load the code location with the demo's database and
marketplace file, record in the same Dagster instance as the demo's runs, and run the schedules
and sensors: new orders arrive as the simulators' clocks move on, syncs land, the stock moves,
the checks run. Beside them, ``ordersync realtime`` takes the Refurbed simulator's order
notifications and watches the Back Market simulator, as it runs in production. Pressing Enter
stops the Back Market simulator (and starts it again), so that a failed sync, its red partition
and its alert can be seen.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlparse

from ordersync_pipeline import console
from ordersync_pipeline.defs.alerts import UI_URL_ENV, WEBHOOK_ENV
from ordersync_pipeline.simulator.refurbed.notifications import Notifier

#: the demo's Refurbed marketplace, and the variable holding its notifications' secret
REFURBED_CODE = "refurbed-de"
NOTIFY_SECRET_ENV = "REFURBED_DE_NOTIFY_SECRET"
DEMO_NOTIFY_SECRET = "demo-notify-secret"

# Faster than in production, so that a visitor sees syncs land, and fail, within a minute or two.
DEMO_CADENCE = {
    "ORDERSYNC_NEW_CRON": "* * * * *",
    "ORDERSYNC_MODIFIED_CRON": "*/5 * * * *",
    "ORDERSYNC_CARE_CRON": "*/10 * * * *",
    "ORDERSYNC_INCOMPLETE_CRON": "*/5 * * * *",
    "ORDERSYNC_SYNC_RETRIES": "1",
    "ORDERSYNC_SYNC_RETRY_WAIT_SECONDS": "5",
}
#: every this many seconds of real time, the simulators' clocks move on by CLOCK_MINUTES
CLOCK_SECONDS = 20.0
CLOCK_MINUTES = 10.0


def environment(database_url: str, config_path: Path, port: int) -> dict[str, str]:
    """What the code location, the webserver and the daemon need to work on the demo's data."""
    return {
        **os.environ,
        **{name: os.environ.get(name, cron) for name, cron in DEMO_CADENCE.items()},
        "DAGSTER_HOME": os.environ["DAGSTER_HOME"],
        "ORDERSYNC_DATABASE_URL": database_url,
        "ORDERSYNC_CONFIG": str(config_path),
        UI_URL_ENV: f"http://127.0.0.1:{port}",
    }


class _Clock(threading.Thread):
    """Moves the simulators' clocks on, so that orders keep arriving and moving."""

    def __init__(self, simulators) -> None:
        super().__init__(name="demo-clock", daemon=True)
        self.simulators = simulators
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(CLOCK_SECONDS):
            for simulator in self.simulators:
                simulator.world.advance(minutes=CLOCK_MINUTES, steps=1)


def serve(database_url: str, config_path: Path, simulators: list, port: int) -> int:
    """Run ``dagster dev`` until it ends or the user presses Ctrl-C; returns its exit status."""
    command = [
        str(Path(sys.executable).parent / "dagster"),
        "dev",
        "-m",
        "ordersync_pipeline.definitions",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    ui = f"http://127.0.0.1:{port}"
    console.console.rule("Dagster UI")
    console.console.print(
        f"Starting the webserver and the daemon on the demo's order book: open {ui}\n"
        f"  Assets: {ui}/assets  Runs: {ui}/runs  Automation (schedules, sensors): {ui}/automation\n"
        f"  The simulators' clocks move on {CLOCK_MINUTES:g} minutes every {CLOCK_SECONDS:g} s; "
        "new orders sync every minute.\n"
        "  Press Enter to stop the Back Market simulator (and again to start it): the next syncs fail,"
        f" and the run_failure_alert sensor tells {WEBHOOK_ENV} (or its log).\n"
        "  Ctrl-C stops everything.",
        soft_wrap=True,
    )
    # Started in the background, a process may have inherited an ignored interrupt; Ctrl-C must
    # reach this process and, through it, dagster dev.
    previous_int = signal.signal(signal.SIGINT, signal.default_int_handler)
    previous_term = signal.signal(signal.SIGTERM, _interrupt)
    clock = _Clock(simulators)
    clock.start()
    # In a session of its own: an interrupt is passed on once, to all of its processes together.
    process = subprocess.Popen(command, env=environment(database_url, config_path, port), start_new_session=True)
    realtime, notifier = _start_realtime(database_url, config_path, port, simulators)
    try:
        threading.Thread(target=_toggle_on_enter, args=(simulators[0],), daemon=True).start()
        return process.wait()
    except KeyboardInterrupt:
        console.console.print("Stopping the Dagster UI and daemon...")
        _stop(process)
        return 0
    finally:
        signal.signal(signal.SIGINT, previous_int)
        signal.signal(signal.SIGTERM, previous_term)
        clock.stopped.set()
        clock.join(timeout=5)
        if notifier is not None:
            notifier.stop()
        _stop(realtime)


def _start_realtime(database_url: str, config_path: Path, port: int, simulators: list):
    """``ordersync realtime`` on a free port, and the Refurbed simulator notifying it of each new order."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        receiver_port = probe.getsockname()[1]
    command = [sys.executable, "-m", "ordersync_pipeline.cli", "realtime", "--port", str(receiver_port)]
    realtime = subprocess.Popen(command, env=environment(database_url, config_path, port), start_new_session=True)
    refurbed = next((s for s in simulators if s.name == "refurbed-simulator"), None)
    notifier = None
    if refurbed is not None:
        url = f"http://127.0.0.1:{receiver_port}/notifications/{REFURBED_CODE}"
        notifier = Notifier(url, os.environ[NOTIFY_SECRET_ENV]).attach(refurbed.world)
    console.console.print(
        f"  ordersync realtime: notifications on 127.0.0.1:{receiver_port}, Back Market watched every few seconds"
    )
    return realtime, notifier


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _stop(process: subprocess.Popen) -> None:
    """Ctrl-C for ``dagster dev`` and its children; whatever is left after a while is killed."""
    for sig, wait in ((signal.SIGINT, 60), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # dagster dev is gone; its children may not be yet.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        return


def _toggle_on_enter(simulator) -> None:
    # Started again on the same port (it may have been given a free one), where the marketplace file points.
    simulator.port = urlparse(simulator.url).port
    running = True
    for _line in sys.stdin:
        if running:
            simulator.stop()
            console.console.print(f"{simulator.name} stopped: press Enter to start it again")
        else:
            simulator.start()
            console.console.print(f"{simulator.name} started again at {simulator.url}")
        running = not running
