"""Throughput of a full sync, a re-sync and the stock that follows, beside the yardsticks.

    python -m benchmarks.throughput [--orders N] [--db postgres|sqlite|both]
                                    [--memory-check] [--paced-pages P]

The Back Market simulator runs in a child process, seeded with N orders of two lines each. The
"full sync" is the modified sync over the whole history (its cursor cleared before each run, so
every run reads every listed order; orders still unpaid are not listed by Back Market). Stock is
seeded from the simulator's catalogue, with enough units on hand for the whole history. Each phase
reports its time, orders per second, this process's peak RSS, the statements it sent and the rows
of order data it wrote, as the database counts them (``measure.counting``); the full sync also the
time the database spent on it (``measure.database_busy``), set beside the floor.
The last line printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
from typing import Any

from sqlalchemy import Engine, delete

from benchmarks import baselines
from benchmarks.measure import Counter, Phase, counting, database_busy, phase, scratch_database
from benchmarks.simulator_process import SimulatorProcess
from ordersync_pipeline import stock
from ordersync_pipeline.db.tables import sync_cursors
from ordersync_pipeline.marketplaces.base import SyncType
from ordersync_pipeline.marketplaces.registry import MarketplaceEntry, adapter_for, find_marketplace
from ordersync_pipeline.marketplaces.registry import upsert_marketplaces as register
from ordersync_pipeline.sync.report import SyncReport
from ordersync_pipeline.sync.runner import MarketplaceRef, run_sync

TOKEN_ENV = "ORDERSYNC_BENCH_TOKEN"
TOKEN = "bench-token"
CODE = "backmarket-bench"
SEED = 11
LINES_PER_ORDER = 2
#: the old command's rate does not depend on how many orders there are: it is measured on these
BASELINE_ORDERS = 10_000


class Pipeline:
    """One database and one simulated Back Market account, and the pipeline's steps over them."""

    def __init__(self, engine: Engine, sim: SimulatorProcess, settings: dict[str, Any]) -> None:
        self.engine, self.sim = engine, sim
        register(
            engine,
            [MarketplaceEntry(code=CODE, kind="backmarket", base_url=sim.url, token_env=TOKEN_ENV, settings=settings)],
        )
        with engine.connect() as conn:
            self.row = find_marketplace(conn, CODE)

    def seed_stock(self, orders: int) -> None:
        catalogue = self.sim.call("catalogue")
        for listing in catalogue:
            listing["quantity"] += LINES_PER_ORDER * 2 * orders  # a unit for every line ever sold
        stock.seed_stock(self.engine, catalogue)

    def sync(self) -> tuple[SyncReport, float]:
        """The modified sync over the whole history; also returns the seconds the database worked."""
        with self.engine.begin() as conn:
            conn.execute(delete(sync_cursors).where(sync_cursors.c.sync_type == SyncType.MODIFIED))
        adapter = adapter_for(self.row)
        try:
            with database_busy(self.engine) as busy:
                report = run_sync(self.engine, MarketplaceRef(self.row.id, CODE), adapter, SyncType.MODIFIED)
            return report, busy[0]
        finally:
            adapter.close()

    def stock(self) -> tuple[stock.ApplyReport, stock.PushReport]:
        return stock.apply_pending_events(self.engine), stock.push_stock(self.engine, adapter_for)


def _row(name: str, measured: Phase, counter: Counter, orders: int, **extra: Any) -> dict[str, Any]:
    return {
        "phase": name,
        "seconds": round(measured.seconds, 3),
        "orders_per_s": round(orders / measured.seconds) if orders and measured.seconds else None,
        "peak_rss_mb": round(measured.peak_rss_mb, 1),
        "statements": counter.statements,
        "rows_written": counter.rows_written,
        **extra,
    }


def measure_database(kind: str, orders: int, baseline_orders: int) -> dict[str, Any]:
    """Every phase on one database kind; the figures as a dict."""
    rows: list[dict[str, Any]] = []
    with SimulatorProcess(tokens={TOKEN}, seed=SEED, orders=orders, lines_per_order=LINES_PER_ORDER) as sim:
        with scratch_database(kind) as engine:
            pipe = Pipeline(engine, sim, {"rate_limit": None, "rate_limit_file": None})
            pipe.seed_stock(orders)

            with counting(engine) as counter, phase() as full:
                report, db_s = pipe.sync()
            fetched = report.created + report.updated + report.unchanged
            rows.append(_row("full sync", full, counter, fetched, events=report.events, db_s=round(db_s, 3)))
            with counting(engine) as counter, phase() as applied:
                applied_report, pushed = pipe.stock()
            rows.append(
                _row("events + stock", applied, counter, fetched, events=applied_report.events, pushed=pushed.pushed)
            )
            end_to_end = full.seconds + applied.seconds

            with counting(engine) as counter, phase() as same:
                unchanged, _ = pipe.sync()
            rows.append(_row("re-sync, nothing changed", same, counter, fetched, events=unchanged.events))
            unchanged_written = counter.rows_written

            changed_orders = sim.call("change", 0.01, SEED)
            with counting(engine) as counter, phase() as moved:
                changed, _ = pipe.sync()
                changed_stock, changed_push = pipe.stock()
            rows.append(
                _row(
                    "re-sync, 1% changed, + stock",
                    moved,
                    counter,
                    fetched,
                    events=changed.events,
                    updated=changed.updated,
                )
            )

            floor_rows, floor_s = baselines.copy_floor(engine)
        with scratch_database(kind) as old_engine:
            old = Pipeline(old_engine, sim, {"rate_limit": None, "rate_limit_file": None, "concurrency": 1})
            adapter = adapter_for(old.row)
            try:
                with counting(old_engine) as counter, phase() as measured:
                    done, _ = baselines.row_at_a_time(old_engine, old.row.id, adapter, baseline_orders)
            finally:
                adapter.close()
            rows.append(_row(f"row-at-a-time baseline ({done} orders)", measured, counter, done))
    rows.append({"phase": f"floor: bulk load of the same {floor_rows} rows", "seconds": round(floor_s, 3)})
    baseline_rate = done / measured.seconds
    full_rate = fetched / end_to_end
    figures = {
        "database": kind,
        "orders": fetched,
        "orders_seeded": orders,
        "full_sync": "modified sync over the whole history (cursor cleared)",
        "full_sync_s": round(end_to_end, 3),
        "full_sync_orders_per_s": round(full_rate),
        "sync_only_orders_per_s": round(fetched / full.seconds),
        "full_sync_events": report.events,
        "full_sync_statements": rows[0]["statements"] + rows[1]["statements"],
        "full_sync_rows_written": rows[0]["rows_written"] + rows[1]["rows_written"],
        "statements_from": counter.statements_from,
        "full_sync_db_s": round(db_s, 3),
        "copy_floor_s": round(floor_s, 3),
        "db_vs_floor": round(db_s / floor_s, 2) if floor_s else None,
        "baseline_orders_per_s": round(baseline_rate),
        "speedup_vs_baseline": round(full_rate / baseline_rate, 1),
        "resync_unchanged_orders_per_s": round(fetched / same.seconds),
        "resync_unchanged_rows_written": unchanged_written,
        "resync_unchanged_events": unchanged.events,
        "resync_changed_orders": changed_orders,
        "resync_changed_orders_per_s": round(fetched / moved.seconds),
        "resync_changed_updated": changed.updated,
        "resync_changed_events": changed.events,
        "resync_changed_locks_consumed_released": changed_stock.consumed + changed_stock.released,
        "resync_changed_listings_pushed": changed_push.pushed,
        "peak_rss_mb": max(r["peak_rss_mb"] for r in rows[:4]),
        "phases": rows,
    }
    return figures


def memory_check(kind: str, orders: int) -> dict[str, Any]:
    """Peak RSS of a full sync (and its events) at N and at 10 x N orders.

    Each size runs in a fresh process: memory an earlier phase freed stays in this process's RSS
    (Python keeps its arenas), and would be counted as the smaller run's peak.
    """
    peaks = {}
    context = multiprocessing.get_context("spawn")
    for n in (orders, orders * 10):
        answer = context.Queue()
        child = context.Process(target=_memory_run, args=(kind, n, answer))  # not a daemon: it starts a simulator
        child.start()
        peaks[n] = _answer_of(child, answer)
    (small, large) = peaks.values()
    return {
        "database": kind,
        "memory_orders": list(peaks),
        "memory_peak_rss_mb": [round(p[0], 1) for p in peaks.values()],
        "memory_seconds": [round(p[1], 1) for p in peaks.values()],
        "memory_ratio": round(large[0] / small[0], 2),
    }


def _answer_of(child: Any, answer: Any) -> Any:
    """What ``child`` puts on ``answer``; an error if it ends without an answer."""
    while True:
        try:
            result = answer.get(timeout=1.0)
        except queue.Empty:
            if not child.is_alive():
                raise RuntimeError(f"the memory run ended without a result (exit code {child.exitcode})") from None
            continue
        child.join()
        return result


def _memory_run(kind: str, orders: int, answer: Any) -> None:
    """Puts (peak RSS in MB, seconds) of a full sync and its events at ``orders`` orders on ``answer``."""
    os.environ[TOKEN_ENV] = TOKEN
    simulator = SimulatorProcess(tokens={TOKEN}, seed=SEED, orders=orders, lines_per_order=LINES_PER_ORDER)
    with simulator as sim, scratch_database(kind) as engine:
        pipe = Pipeline(engine, sim, {"rate_limit": None, "rate_limit_file": None})
        pipe.seed_stock(orders)
        with phase() as measured:
            pipe.sync()
            pipe.stock()
    answer.put((measured.peak_rss_mb, measured.seconds))


def paced(pages: int) -> dict[str, Any]:
    """A sync of ``pages`` pages against Back Market's pacing: 50 ms a request, 200 requests per 10 s."""
    import tempfile
    from pathlib import Path

    rate = (200, 10.0)
    with SimulatorProcess(tokens={TOKEN}, seed=SEED, orders=pages * 50, latency=0.05, rate_limit=rate) as sim:
        orders = sim.call("listed")
        with tempfile.TemporaryDirectory() as folder, scratch_database("sqlite") as engine:
            settings = {"rate_limit": list(rate), "rate_limit_file": str(Path(folder) / "rate_limits.sqlite")}
            pipe = Pipeline(engine, sim, settings)
            with phase() as measured:
                report, _ = pipe.sync()
            limited = sim.call("limited")
    requests = report.pages
    budget = max(0, requests - rate[0]) / rate[0] * rate[1]  # the first 200 go at once
    return {
        "paced_pages": requests,
        "paced_orders": orders,
        "paced_seconds": round(measured.seconds, 1),
        "paced_budget_seconds": round(requests / rate[0] * rate[1], 1),
        "paced_earliest_seconds": round(budget, 1),
        "paced_429": limited,
    }


def print_table(figures: dict[str, Any]) -> None:
    print(f"\n== {figures['database']}: {figures['orders']} orders listed of {figures['orders_seeded']} seeded ==")
    header = (
        f"{'phase':44} {'seconds':>8} {'orders/s':>9} {'peak MB':>8} {'stmts':>7} {'rows written':>12} {'events':>7}"
    )
    print(header)
    for row in figures["phases"]:
        print(
            f"{row['phase']:44} {row['seconds']:>8} {row.get('orders_per_s') or '':>9} {row.get('peak_rss_mb', ''):>8} "
            f"{row.get('statements', ''):>7} {row.get('rows_written', ''):>12} {row.get('events', ''):>7}"
        )
    rows_from = "pg_stat_user_tables" if figures["database"] == "postgres" else "cursor row counts"
    print(f"statements counted by: {figures['statements_from']}; rows written counted by: {rows_from}")
    print(
        f"full sync end to end (sync + events + stock): {figures['full_sync_s']} s, "
        f"{figures['full_sync_orders_per_s']} orders/s, {figures['speedup_vs_baseline']}x the baseline; "
        f"database {figures['full_sync_db_s']} s = {figures['db_vs_floor']}x the floor of {figures['copy_floor_s']} s"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--db", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--baseline-orders", type=int, default=BASELINE_ORDERS, help="orders the old way is timed on")
    parser.add_argument("--memory-check", action="store_true", help="also a full sync at 10 x N: peak RSS ratio")
    parser.add_argument(
        "--paced-pages", type=int, default=0, help="also a paced sync of this many pages (~100 s for 2000)"
    )
    args = parser.parse_args(argv)
    os.environ[TOKEN_ENV] = TOKEN
    kinds = ["postgres", "sqlite"] if args.db == "both" else [args.db]
    result: dict[str, Any] = {}
    for kind in kinds:
        figures = measure_database(kind, args.orders, min(args.orders, args.baseline_orders))
        print_table(figures)
        result[kind] = {k: v for k, v in figures.items() if k != "phases"}
    if args.memory_check:
        memory = memory_check(kinds[0], args.orders)
        print(
            f"\nmemory: peak RSS {memory['memory_peak_rss_mb']} MB at {memory['memory_orders']} orders, "
            f"ratio {memory['memory_ratio']}"
        )
        result["memory"] = memory
    if args.paced_pages:
        pacing = paced(args.paced_pages)
        print(
            f"\npaced: {pacing['paced_pages']} pages in {pacing['paced_seconds']} s "
            f"(budget {pacing['paced_budget_seconds']} s), {pacing['paced_429']} answers 429"
        )
        result["paced"] = pacing
    print(json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
