"""A simulator's clock can start in the past: the chaos benchmark runs its marketplaces on one clock
that a recount brings to the present."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest
import requests


@pytest.mark.parametrize("kind", ["backmarket", "refurbed"])
def test_the_clock_starts_where_it_is_told_and_moves_on_from_there(kind):
    start = datetime.now(UTC) - timedelta(days=3)
    command = [sys.executable, "-m", "ordersync_pipeline.simulator", "--kind", kind, "--port", "0"]
    command += ["--orders", "5", "--clock-start", start.isoformat()]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert "simulator on" in line, line
        url = line.split(" on ", 1)[1].split()[0]
        now = datetime.fromisoformat(requests.get(f"{url}/_sim/state", timeout=10).json()["now"])
        assert start - timedelta(seconds=2) <= now <= start + timedelta(seconds=30)
        moved = requests.post(f"{url}/_sim/advance", json={"minutes": 90}, timeout=10).json()
        assert datetime.fromisoformat(moved["now"]) - now >= timedelta(minutes=90)
        reset = requests.post(f"{url}/_sim/reset", timeout=10).json()
        assert datetime.fromisoformat(reset["now"]) < now + timedelta(minutes=5)
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
