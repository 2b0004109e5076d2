"""Chaos: syncs under random faults and ``kill -9``, a recount among them, then a clean run, then
the invariants of docs/design.md.

    python -m benchmarks.chaos [--syncs N] [--seed S] [--db sqlite|postgres] [--kill-rate R]

The Back Market and Refurbed simulators run in child processes (``python -m
ordersync_pipeline.simulator``), on one clock that starts in the past. Each iteration moves their
clocks on, gives each a random set of faults through ``/_sim/faults`` (Back Market's listing
ordered by id or by modification date, with orders changing between its pages among them), and
runs one sync (random marketplace and type) with the stock applied and pushed after it in a child
process (``benchmarks.chaos_worker``), which is killed with SIGKILL at a random moment now and then.

Half the SKUs are counted with units to spare, and recounted once, as README's "Going live" says
an operator does: the clocks are brought to the present, each marketplace synced, the shelf
counted; the count is imported two to eight syncs later (orders ship in between), in a process of
its own beside that iteration's sync, killed now and then too and imported again
(``benchmarks.chaos_shelf``). Then the faults are turned off, every sync type, the stock apply and
the push run to completion, and the database is checked, on hand against the shelf among the rest.
The last line printed is one JSON object: ``syncs``, ``faults`` (injected, by kind), ``kills``,
``first_day`` (which came first: the count or the history), ``recount`` (the iteration it was
counted at, the one it was imported in, import attempts, units taken off at the import),
``violations``. Exit status 1 if any invariant is violated.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from benchmarks.chaos_checks import invariant_violations
from benchmarks.chaos_shelf import Shelf, spare_units, write_stock_file
from benchmarks.chaos_worker import step
from benchmarks.measure import scratch_database
from ordersync_pipeline import stock
from ordersync_pipeline.db.tables import utc_naive, utcnow
from ordersync_pipeline.marketplaces.registry import MarketplaceEntry, upsert_marketplaces
from ordersync_pipeline.simulator import SIMULATORS

TOKENS = {"backmarket": ("CHAOS_BACKMARKET_TOKEN", "chaos-bm-token"), "refurbed": ("CHAOS_REFURBED_TOKEN", "chaos-rf")}
CODES = {"backmarket": "backmarket-chaos", "refurbed": "refurbed-chaos"}
SYNC_TYPES = {"backmarket": ("new", "modified", "care", "incomplete"), "refurbed": ("new", "modified", "incomplete")}
# Short timeouts and backoffs: a fault costs a fraction of a second, not the production minute.
SETTINGS = {
    "timeout": [2.0, 0.5],
    "max_retries": 3,
    "backoff_factor": 0.02,
    "backoff_max": 0.2,
    "rate_limit": None,
    "rate_limit_file": None,
    "rate_limit_max_wait": 1.5,
    "rate_limit_pause": 0.2,
}
#: the knobs each iteration draws from, and the highest rate it may give them
RATES = {
    "burst_rate": 0.1,
    "error_rate": 0.2,
    "timeout_rate": 0.05,
    "hang_rate": 0.05,
    "truncate_rate": 0.1,
    "malformed_rate": 0.1,
    "change_rate": 0.5,
}
OFF = dict.fromkeys(RATES, 0.0) | {"rules": []}
#: the orders Back Market's listing may come in (its document does not say which it uses)
ORDERINGS = ("id", "date_modification")
ORDERS = 30
#: the iteration the shelf is recounted at (imported two to eight syncs later)
RECOUNT_AT = 3


class Simulator:
    """A simulator in a child process on a free port of 127.0.0.1, stopped by the pid it was given."""

    def __init__(self, kind: str, seed: int, clock_start: datetime) -> None:
        self.kind, self.seed = kind, seed
        env_name, token = TOKENS[kind]
        self.token = token
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        command = [sys.executable, "-m", "ordersync_pipeline.simulator", "--kind", kind, "--port", str(self.port)]
        command += ["--orders", str(ORDERS), "--seed", str(seed), "--token-env", env_name]
        command += ["--clock-start", clock_start.isoformat()]
        self.process = subprocess.Popen(command, env=os.environ | {env_name: token}, stdout=subprocess.PIPE, text=True)
        if "simulator on" not in (self.process.stdout.readline() if self.process.stdout else ""):
            self.stop()
            raise RuntimeError(f"the {kind} simulator did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    def control(self, method: str, path: str, body: dict | None = None) -> Any:
        answer = requests.request(method, f"{self.url}/_sim/{path}", json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def now(self) -> datetime:
        return datetime.fromisoformat(self.control("GET", "state")["now"])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


def seed_stock(engine: Any, seed: int, counted_at: datetime, spare: int) -> dict[str, int]:
    """One stock for both marketplaces, listed on each under its own references, counted at
    ``counted_at``; every other SKU gets units to spare and is the shelf's to check (its count is
    returned). The simulators' catalogues are drawn from the seed, so building them here gives
    the same listings."""
    catalogues = {kind: SIMULATORS[kind](seed=seed, orders=0).world.catalogue() for kind in SIMULATORS}
    refurbed = {offer["sku"]: offer["offer_id"] for offer in catalogues["refurbed"]}
    rows = [
        {
            "sku": listing["sku"],
            "on_hand": listing["quantity"] + (spare if n % 2 == 0 else 0),
            "listings": {CODES["backmarket"]: str(listing["listing_id"]), CODES["refurbed"]: refurbed[listing["sku"]]},
        }
        for n, listing in enumerate(sorted(catalogues["backmarket"], key=lambda listing: listing["sku"]))
    ]
    stock.seed_stock(engine, rows, counted_at=counted_at)
    return {row["sku"]: row["on_hand"] for n, row in enumerate(rows) if n % 2 == 0}


@dataclass
class Recount:
    """A shelf count taken at ``counted_in`` and imported in a later iteration (``due``)."""

    counted_in: int
    counted_at: datetime
    path: Path
    due: int
    attempts: int = 0
    imported_in: int | None = None
    #: units that left after the count and were applied before the import: taken off the count
    taken_off: int | None = None
    #: where on hand was not the shelf when the recount was taken
    before: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {
            "counted_in": self.counted_in,
            "imported_in": self.imported_in,
            "attempts": self.attempts,
            "taken_off_at_import": self.taken_off,
        }


def take_recount(
    engine: Any, url: str, sims: dict[str, Simulator], shelf: Shelf, n: int, due: int, folder: Path
) -> Recount:
    """The operator's recount (README, "Going live"): the marketplaces' clocks brought to the
    present, each marketplace synced, nothing shipped while the shelf is counted."""
    behind = datetime.now(UTC) - max(sim.now() for sim in sims.values()) - timedelta(minutes=1)
    for sim in sims.values():
        sim.control("POST", "advance", {"minutes": max(0.0, behind.total_seconds() / 60), "steps": 2})
        sim.control("POST", "faults", OFF)
    settle(url, sims, ("new", "modified"))
    counted_at = utcnow()
    path = folder / "recount.csv"
    write_stock_file(path, shelf.now(sims))
    # Every change applied: on hand must be the shelf already (the first day's count held).
    return Recount(
        n, counted_at, path, due, before=[f"before the recount, {v}" for v in shelf.violations(engine, sims)]
    )


def start_import(url: str, recount: Recount, kill_after: float | None) -> tuple[subprocess.Popen, threading.Timer]:
    """The recount's import in a child process, killed with SIGKILL after ``kill_after`` seconds if
    it is still running then."""
    recount.attempts += 1
    command = [sys.executable, "-m", "benchmarks.chaos_shelf", url, str(recount.path), recount.counted_at.isoformat()]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killer = threading.Timer(kill_after if kill_after is not None else 300, process.kill)
    killer.start()
    return process, killer


def finish_import(recount: Recount, n: int, process: subprocess.Popen, killer: threading.Timer) -> str:
    out, err = process.communicate()
    killer.cancel()
    if process.returncode == 0:
        recount.imported_in = n
        recount.taken_off = json.loads(out)["left_since_count"]
        return "ok"
    if process.returncode == -signal.SIGKILL:
        return "killed"
    print(f"  recount import exited {process.returncode}: {err.strip().splitlines()[-1:]}", flush=True)
    return "crashed"


def settle(url: str, sims: dict[str, Simulator], sync_types: tuple[str, ...] | None = None) -> None:
    """Syncs of each marketplace to completion, faults off (every type unless ``sync_types``)."""
    for kind in sims:
        for sync_type in sync_types or SYNC_TYPES[kind]:
            step(url, CODES[kind], sync_type)


def random_faults(rng: random.Random) -> dict[str, Any]:
    """Off half the time; else two or three modes at random rates."""
    if rng.random() < 0.5:
        return OFF | {"seed": rng.randrange(10**6)}
    chosen = rng.sample(sorted(RATES), rng.randint(2, 3))
    return OFF | {"seed": rng.randrange(10**6), "timeout_seconds": 0.8} | {k: rng.uniform(0, RATES[k]) for k in chosen}


def run_worker(url: str, code: str, sync_type: str, kill_after: float | None) -> str:
    """``ok``, ``failed`` (the marketplace failed), ``killed``, or ``crashed`` (anything else)."""
    env = os.environ | {name: token for name, token in TOKENS.values()}
    command = [sys.executable, "-m", "benchmarks.chaos_worker", url, code, sync_type]
    worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = worker.communicate(timeout=kill_after if kill_after is not None else 300)
    except subprocess.TimeoutExpired:
        os.kill(worker.pid, signal.SIGKILL)  # a real kill -9, wherever the worker is
        worker.communicate()
        return "killed"
    if worker.returncode == 0:
        return "ok"
    if worker.returncode == 2:
        return "failed"
    print(f"  worker {code} {sync_type} exited {worker.returncode}: {err.strip().splitlines()[-1:]}", flush=True)
    return "crashed"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.chaos", description=__doc__)
    parser.add_argument("--syncs", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--kill-rate", type=float, default=0.3, help="share of syncs killed at a random moment")
    args = parser.parse_args(argv)
    # Oversold units are expected here (both marketplaces sell one stock): count, do not log them.
    logging.getLogger("ordersync_pipeline").setLevel(logging.ERROR)
    rng = random.Random(args.seed)
    started = time.perf_counter()
    outcomes: Counter = Counter()
    imports: Counter = Counter()
    # The recount needs the marketplaces' clock at or behind ours (a count time cannot lie in the
    # future), and a modified sync needs it less than its overlap behind (its window ends at our
    # clock): so the clock starts a few minutes in the past, moves on by a minute or two a sync
    # until the recount brings it to the present, then by hours.
    recount_at = min(RECOUNT_AT, args.syncs - 1)
    minutes = [rng.randint(1, 2) if n < recount_at else rng.randint(5, 120) for n in range(args.syncs)]
    clock_start = datetime.now(UTC) - timedelta(minutes=sum(minutes[:recount_at]) + 2)
    sims: dict[str, Simulator] = {}
    recount: Recount | None = None
    try:
        for kind in SIMULATORS:
            sims[kind] = Simulator(kind, args.seed, clock_start)
        with scratch_database(args.db) as engine, tempfile.TemporaryDirectory(prefix="ordersync-chaos-") as folder:
            upsert_marketplaces(
                engine,
                [
                    MarketplaceEntry(code=CODES[k], kind=k, base_url=s.url, token_env=TOKENS[k][0], settings=SETTINGS)
                    for k, s in sims.items()
                ],
            )
            url = engine.url.render_as_string(hide_password=False)
            os.environ.update({name: token for name, token in TOKENS.values()})
            # The first day as README's "Going live" has it, in either order: the history synced
            # and the shelf counted, nothing shipping in between.
            count_first = rng.random() < 0.5
            if not count_first:
                settle(url, sims)
            counted_at = utc_naive(max(sim.now() for sim in sims.values())) + timedelta(seconds=1)
            shelf = Shelf.counted(seed_stock(engine, args.seed, counted_at, spare_units(sum(minutes) / 60)), sims)
            if count_first:
                settle(url, sims)
            for n in range(args.syncs):
                if n == recount_at:
                    recount = take_recount(engine, url, sims, shelf, n, n + rng.randint(2, 8), Path(folder))
                for kind, sim in sims.items():
                    sim.control("POST", "advance", {"minutes": minutes[n], "steps": 2})
                    ordering = {"order_by": rng.choice(ORDERINGS)} if kind == "backmarket" else {}
                    sim.control("POST", "faults", random_faults(rng) | ordering)
                kind = rng.choice(sorted(sims))
                sync_type = rng.choice(SYNC_TYPES[kind])
                kill_after = rng.uniform(0.0, 1.5) if rng.random() < args.kill_rate else None
                importing = None
                if recount and recount.imported_in is None and n >= recount.due:
                    importing = start_import(url, recount, rng.uniform(0.0, 1.0) if rng.random() < 0.5 else None)
                outcomes[run_worker(url, CODES[kind], sync_type, kill_after)] += 1
                if importing:
                    imports[finish_import(recount, n, *importing)] += 1
                if (n + 1) % 25 == 0:
                    print(f"{n + 1} syncs: {dict(outcomes)}", flush=True)
            faults: Counter = Counter()
            for sim in sims.values():
                faults.update(sim.control("POST", "faults", OFF)["injected"])
            if recount and recount.imported_in is None:
                imports[finish_import(recount, args.syncs, *start_import(url, recount, None))] += 1
            violations = converge_and_check(engine, url, sims) + shelf.violations(engine, sims)
            violations += recount.before if recount else []
            if recount is None or recount.imported_in is None:
                violations.append("the recount was not imported")
    finally:
        for sim in sims.values():
            sim.stop()
    seconds = time.perf_counter() - started
    print(f"syncs: {args.syncs} ({dict(outcomes)}), {seconds:.1f} s on {args.db}")
    print(f"faults injected: {dict(sorted(faults.items()))}")
    print(f"kills (SIGKILL): {outcomes['killed']}")
    print(f"recount: {recount.summary() if recount else None}, imports {dict(imports)}")
    print(f"violations: {len(violations)}")
    for violation in violations[:20]:
        print(f"  {violation}")
    summary = {"syncs": args.syncs, "faults": dict(sorted(faults.items())), "kills": outcomes["killed"]}
    summary |= {"first_day": "count, then history" if count_first else "history, then count"}
    summary |= {"recount": recount.summary() if recount else None}
    print(json.dumps(summary | {"violations": len(violations), "crashed": outcomes["crashed"] + imports["crashed"]}))
    return 1 if violations else 0


def converge_and_check(engine: Any, url: str, sims: dict[str, Simulator]) -> list[str]:
    """Every sync type of every marketplace to completion without faults, then the invariants."""
    settle(url, sims)
    # new accepts orders, which changes them: modified reads them back, then the stock settles.
    settle(url, sims, ("modified",))
    return invariant_violations(engine, {CODES[k]: s for k, s in sims.items()})


if __name__ == "__main__":
    sys.exit(main())
