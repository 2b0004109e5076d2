"""Reconciling 10,000 listings on each marketplace's simulator, within its real budget.

    python -m benchmarks.reconcile [--listings N] [--drift SHARE] [--first-day] [--latency S] [--db sqlite|postgres]

Each simulator runs in a child process with N listings (default 10,000) and the budget its
marketplace documents: Back Market 200 requests per 10 s for the account and 20 per 10 s for the
catalog endpoints, each blocking for 10 s when passed; Refurbed publishes none (its simulator
advertises a window too large to reach, as the real API's headers would describe it), unless
``--refurbed-rate N`` gives it N requests per 10 s. Every answer takes ``--latency`` seconds
(default 0.05). The stock is the simulator's catalogue, taken as pushed; then a share of the
listings (``--drift``, default 1%, half above and half below) is edited as in a back office, or,
with ``--first-day``, every listing is set to an old quantity. One reconciliation runs, with the
default settings (Back Market corrects at most 1,000 listings an hour). It prints the time, the
requests by kind, what was found and corrected, and the process's peak RSS; the last line is one
JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import os
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import update

from ordersync_pipeline.db.engine import make_engine, upgrade
from ordersync_pipeline.db.tables import marketplace_stock
from ordersync_pipeline.defs.stock.reconcile import catch_up
from ordersync_pipeline.marketplaces.registry import (
    MarketplaceEntry,
    adapter_for,
    find_marketplace,
    upsert_marketplaces,
)
from ordersync_pipeline.simulator import SIMULATORS
from ordersync_pipeline.stock import seed_stock
from ordersync_pipeline.stock.push import listings_to_push
from ordersync_pipeline.stock.reconcile import reconcile

TOKEN = "bench-reconcile-token"
BACK_MARKET_BUDGET = (200, 10.0)
CATALOG_BUDGET = (20, 10.0)
BLOCK_SECONDS = 10.0


def _serve(conn: Any, kind: str, listings: int, latency: float, rate: tuple[int, float] | None) -> None:
    sim = SIMULATORS[kind](tokens={TOKEN}, seed=3, orders=0, skus=listings, latency=latency, rate_limit=rate)
    if kind == "backmarket":
        sim.faults.configure(block_seconds=BLOCK_SECONDS)
        sim.world.listing_drift.configure(rate_limit=CATALOG_BUDGET, block_seconds=BLOCK_SECONDS)
    sim.start()
    conn.send(sim.url)
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                break
            if command == "catalogue":
                conn.send(sim.world.catalogue())
            elif command == "edit":
                for sku, quantity in args[0].items():
                    sim.world.set_listing_quantity(sku, quantity)
                conn.send(len(args[0]))
            elif command == "counts":
                drift = sim.world.listing_drift
                limited = sim.faults.limited + getattr(drift, "limited", 0)
                conn.send((dict(sim.faults.requests), len(sim.world.pushes), drift.reads, limited))
            elif command == "listed":
                conn.send({x["sku"]: x["quantity"] for x in sim.world.catalogue()})
    finally:
        sim.stop()
        conn.close()


class Child:
    def __init__(self, *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, *args), daemon=True)
        self._process.start()
        child.close()
        self.url = self._conn.recv()

    def call(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        return self._conn.recv()

    def stop(self) -> None:
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(("stop", ()))
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()


def measure(kind: str, args: argparse.Namespace, db_url: str, folder: Path) -> dict[str, Any]:
    rate = BACK_MARKET_BUDGET if kind == "backmarket" else ((args.refurbed_rate, 10.0) if args.refurbed_rate else None)
    child = Child(kind, args.listings, args.latency, rate)
    try:
        engine = make_engine(db_url)
        upgrade(engine)
        code = f"{kind}-bench"
        settings = {"rate_limit_file": str(folder / "rate_limits.sqlite")}
        upsert_marketplaces(
            engine,
            [MarketplaceEntry(code=code, kind=kind, base_url=child.url, token_env="BENCH_TOKEN", settings=settings)],
        )
        with engine.connect() as conn:
            row = find_marketplace(conn, code)
        catalogue = child.call("catalogue")
        seed_stock(engine, catalogue, [code])
        # Taken as pushed: the listings show what ordersync computes (pushing 10,000 first would
        # take Back Market's budget for five hours).
        computed = {x.id: x.quantity for x in listings_to_push(engine, [row.id])}
        with engine.begin() as conn:
            for listing_id, quantity in computed.items():
                conn.execute(
                    update(marketplace_stock).where(marketplace_stock.c.id == listing_id), {"pushed_quantity": quantity}
                )
        skus = sorted(x["sku"] for x in catalogue)
        listed = {x["sku"]: x["quantity"] for x in catalogue}
        chosen = skus if args.first_day else skus[:: max(1, round(1 / args.drift))]
        edits = {sku: (listed[sku] + 2 if n % 2 else max(0, listed[sku] - 2)) for n, sku in enumerate(chosen)}
        edits = {sku: q for sku, q in edits.items() if q != listed[sku]}
        child.call("edit", edits)
        before, pushes_before, reads_before, _ = child.call("counts")
        started = time.monotonic()
        (report,) = reconcile(engine, adapter_for, [row.id], catch_up=catch_up(engine))
        seconds = time.monotonic() - started
        after, pushes_after, reads_after, limited = child.call("counts")
        requests = Counter(after)
        requests.subtract(before)
        engine.dispose()
    finally:
        child.stop()
    return {
        "marketplace": kind,
        "listings": args.listings,
        "edited": len(edits),
        "seconds": round(seconds, 1),
        "requests": sum(requests.values()),
        "catalog_reads": reads_after - reads_before,
        "sku_lines_pushed": pushes_after - pushes_before,
        "answered_429": limited,
        "read": report.read,
        "in_line": report.in_line,
        "drifted": report.drifted,
        "corrected": report.corrected,
        "deferred": report.deferred,
        "pending": report.pending,
        "drift_units": report.drift_units,
    }


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.reconcile", description=__doc__)
    parser.add_argument("--listings", type=int, default=10_000)
    parser.add_argument("--drift", type=float, default=0.01, help="share of listings edited by hand (default 0.01)")
    parser.add_argument("--first-day", action="store_true", help="every listing at an old quantity")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds each answer takes (default 0.05)")
    parser.add_argument("--refurbed-rate", type=int, default=None, help="Refurbed requests per 10 s (default: none)")
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--marketplace", choices=("backmarket", "refurbed", "both"), default="both")
    args = parser.parse_args()
    os.environ["BENCH_TOKEN"] = TOKEN
    kinds = ("backmarket", "refurbed") if args.marketplace == "both" else (args.marketplace,)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["ORDERSYNC_DATA_DIR"] = str(folder)
        for kind in kinds:
            if args.db == "postgres":
                from ordersync_pipeline_tests.conftest import _create_postgres_database, _drop_postgres_database

                url = _create_postgres_database()
            else:
                url = f"sqlite:///{folder / f'{kind}.db'}"
            try:
                rows.append(measure(kind, args, url, folder))
            finally:
                if args.db == "postgres":
                    _drop_postgres_database(url)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    for r in rows:
        print(
            f"{r['marketplace']}: {r['listings']} listings, {r['edited']} edited: {r['seconds']} s,"
            f" {r['requests']} requests ({r['catalog_reads']} listing reads, {r['sku_lines_pushed']} SKU lines pushed,"
            f" {r['answered_429']} x 429);"
            f" read {r['read']}, in line {r['in_line']}, drifted {r['drifted']}, corrected {r['corrected']},"
            f" deferred {r['deferred']}, pending {r['pending']}, units of drift {r['drift_units']}"
        )
    print(f"peak RSS of this process: {peak} MB")
    print(json.dumps({"latency": args.latency, "first_day": args.first_day, "peak_rss_mb": peak, "runs": rows}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
