"""Latency: how long after an order the other marketplace stops selling the unit, today's way and in real time.

    python -m benchmarks.latency [--minutes M] [--races N] [--orders-per-minute R] [--db postgres|sqlite]
                                 [--cadence-scale S] [--seed S]

Two shops run side by side for the same wall time, each a Back Market and a Refurbed simulator
(both with 50 ms of latency and a request budget: Back Market's 200 per 10 s, Refurbed 100 per
10 s, which it does not publish) selling the same SKUs from one stock, each with its own order book:

- **real time**: ``RealtimeService`` (the receiver of Refurbed's notifications, which its
  simulator sends 0.5 to 2 s after each order with 10 % duplicates; the Back Market watcher; the
  in-process pusher), with the scheduled syncs beside it as the backstop;
- **scheduled** (today's way): new syncs of both marketplaces every 5 minutes, then the stock
  apply and push at the next 30-second tick of the automation sensor. The run a tick starts is
  run in this process, so the seconds a daemon takes to start one are left out: today's way is
  measured a little faster than it is.

Orders arrive at random times on both marketplaces, each on a SKU no other order in flight has;
an order's latency is from its creation at one marketplace to the moment the other
marketplace's simulator holds the lowered quantity (watched every 20 ms). In real time, orders
placed on Refurbed come in by notification, those on Back Market by poll.

The race: a SKU whose last unit is listed on both; one customer buys it on one marketplace, a
second tries on the other 1 to 30 s later; a simulator refuses a purchase when its listing
stands at 0. A double sale is both purchases going through.

``--cadence-scale`` shrinks today's cadence (CI runs 0.1: new syncs every 30 s); the default 1
is the real one, and the run lasts until every order has been seen lowered (up to a cadence more).
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, select

from benchmarks.measure import scratch_database
from ordersync_pipeline.db import tables
from ordersync_pipeline.marketplaces.base import SyncType
from ordersync_pipeline.marketplaces.registry import (
    MarketplaceEntry,
    adapter_for,
    find_marketplace,
    upsert_marketplaces,
)
from ordersync_pipeline.realtime.service import RealtimeOptions, RealtimeService
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator
from ordersync_pipeline.simulator.purchases import purchase
from ordersync_pipeline.simulator.refurbed import RefurbedSimulator
from ordersync_pipeline.simulator.refurbed.notifications import Notifier
from ordersync_pipeline.stock import seed_stock
from ordersync_pipeline.stock.apply import apply_pending_events
from ordersync_pipeline.stock.push import push_stock
from ordersync_pipeline.sync.runner import MarketplaceRef, run_sync

LATENCY = 0.05
BUDGETS = {"backmarket": (200, 10.0), "refurbed": (100, 10.0)}
NEW_SYNC_EVERY = 300.0  # the new sync's schedule: every 5 minutes
SENSOR_EVERY = 30.0  # the stock automation sensor's interval
NOTIFICATION_DELAY = (0.5, 2.0)
WATCH_EVERY = 0.02
STOCK_PER_SKU = 50
KINDS = ("backmarket", "refurbed")


@dataclass
class Order:
    created: float
    sku: str
    origin: str
    other_before: int
    seen: float | None = None


@dataclass
class Shop:
    name: str
    engine: Engine
    sims: dict[str, Any]
    refs: dict[str, MarketplaceRef]
    skus: list[str]
    race_skus: list[str]
    orders: list[Order] = field(default_factory=list)
    #: (first purchase went through, second went through, seconds between them)
    races: list[tuple[bool, bool, float]] = field(default_factory=list)
    backstop_events: int = 0
    cycles: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def other(self, kind: str) -> str:
        return "refurbed" if kind == "backmarket" else "backmarket"

    def quantity(self, kind: str, sku: str) -> int:
        return self.sims[kind].world.listing_quantity(sku)


def _env_token(shop: str, kind: str) -> tuple[str, str]:
    name = f"LATENCY_{shop.upper()}_{kind.upper()}_TOKEN"
    os.environ.setdefault(name, f"latency-{shop}-{kind}-token")
    return name, os.environ[name]


@contextlib.contextmanager
def open_shop(name: str, db: str, skus: int, races: int, seed: int, notify_secret: str | None) -> Iterator[Shop]:
    with contextlib.ExitStack() as stack:
        engine = stack.enter_context(scratch_database(db))
        sims: dict[str, Any] = {}
        entries = []
        for kind in KINDS:
            token_env, token = _env_token(name, kind)
            simulator = BackMarketSimulator if kind == "backmarket" else RefurbedSimulator
            sim = simulator(
                tokens={token}, seed=seed, orders=0, skus=skus + races, latency=LATENCY, rate_limit=BUDGETS[kind]
            )
            sims[kind] = stack.enter_context(sim)
            settings: dict[str, Any] = {"rate_limit": list(BUDGETS[kind]), "rate_limit_file": None}
            if kind == "refurbed" and notify_secret:
                os.environ[f"LATENCY_{name.upper()}_NOTIFY_SECRET"] = notify_secret
                settings["notification_secret_env"] = f"LATENCY_{name.upper()}_NOTIFY_SECRET"
            entries.append(
                MarketplaceEntry(
                    code=f"{kind}-{name}", kind=kind, base_url=sim.url, token_env=token_env, settings=settings
                )
            )
        upsert_marketplaces(engine, entries)
        with engine.connect() as conn:
            refs = {k: MarketplaceRef(find_marketplace(conn, f"{k}-{name}").id, f"{k}-{name}") for k in KINDS}
        catalogue = {k: {o["sku"]: str(o["listing_id"]) for o in sims[k].world.catalogue()} for k in KINDS}
        all_skus = list(catalogue["backmarket"])
        stock_rows = [
            {
                "sku": sku,
                "on_hand": STOCK_PER_SKU if n < skus else 1,
                "listings": {f"{k}-{name}": catalogue[k][sku] for k in KINDS},
            }
            for n, sku in enumerate(all_skus)
        ]
        assert seed_stock(engine, stock_rows).ok
        push_stock(engine, adapter_for)
        yield Shop(name, engine, sims, refs, all_skus[:skus], all_skus[skus:])


def scheduled_cycles(shop: Shop, stop: threading.Event, scale: float, rng: random.Random) -> None:
    """Today's way: new syncs of both marketplaces every 5 minutes, then the stock at the sensor's next tick."""
    every, tick = NEW_SYNC_EVERY * scale, SENSOR_EVERY * scale
    start = time.monotonic()
    next_sync = start + rng.uniform(0, every)
    phase = rng.uniform(0, tick)
    while not stop.wait(max(0.0, next_sync - time.monotonic())):
        next_sync += every
        events = 0
        with shop.engine.connect() as conn:
            rows = {k: find_marketplace(conn, shop.refs[k].code) for k in KINDS}
        for kind in KINDS:
            adapter = adapter_for(rows[kind])
            try:
                events += run_sync(shop.engine, shop.refs[kind], adapter, SyncType.NEW).events
            finally:
                adapter.close()
        now = time.monotonic()
        next_tick = start + phase + tick * (int((now - start - phase) // tick) + 1)
        if stop.wait(max(0.0, next_tick - now)):
            return
        apply_pending_events(shop.engine)
        push_stock(shop.engine, adapter_for)
        with shop.lock:
            shop.backstop_events += events
            shop.cycles += 1


def arrivals(shop: Shop, seed: int, until: float, per_minute: float) -> None:
    """Orders at random times (a Poisson process) on both marketplaces, each on a SKU not in flight.

    Times and marketplaces come from random streams of their own: with the same seed, two shops
    get orders at the same moments on the same marketplaces, whatever SKUs are free in each."""
    times, origins, skus = (random.Random(f"{seed}:{what}") for what in ("times", "origins", "skus"))
    while True:
        time.sleep(times.expovariate(per_minute / 60.0))
        if time.monotonic() >= until:
            return
        origin = origins.choice(KINDS)
        with shop.lock:
            busy = {o.sku for o in shop.orders if o.seen is None}
        free = [sku for sku in shop.skus if sku not in busy]
        if not free:
            continue
        sku = skus.choice(free)
        other_before = shop.quantity(shop.other(origin), sku)
        created = time.monotonic()
        if purchase(shop.sims[origin].world, origin, sku) is not None:
            with shop.lock:
                shop.orders.append(Order(created, sku, origin, other_before))


def watch_listings(shop: Shop, stop: threading.Event) -> None:
    """The moment the other marketplace's listing of each order's SKU went down."""
    while not stop.wait(WATCH_EVERY):
        with shop.lock:
            waiting = [o for o in shop.orders if o.seen is None]
        for order in waiting:
            if shop.quantity(shop.other(order.origin), order.sku) < order.other_before:
                order.seen = time.monotonic()


def race(shop: Shop, sku: str, rng: random.Random) -> None:
    first = rng.choice(KINDS)
    bought = purchase(shop.sims[first].world, first, sku) is not None
    gap = rng.uniform(1.0, 30.0)
    time.sleep(gap)
    second = shop.other(first)
    again = purchase(shop.sims[second].world, second, sku) is not None
    with shop.lock:
        shop.races.append((bought, again, gap))


def races(shop: Shop, rng: random.Random, span: float) -> list[threading.Thread]:
    threads = []
    for sku in shop.race_skus:
        delay = rng.uniform(0, max(0.0, span))
        thread = threading.Timer(delay, race, args=(shop, sku, random.Random(rng.random())))
        thread.daemon = True
        thread.start()
        threads.append(thread)
    return threads


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"orders": 0, "p50_s": None, "p95_s": None, "p99_s": None, "max_s": None}
    ordered = sorted(values)

    def at(share: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 3)

    return {"orders": len(ordered), "p50_s": at(0.5), "p95_s": at(0.95), "p99_s": at(0.99), "max_s": at(1.0)}


def duplicates(shop: Shop) -> dict[str, int]:
    """Orders with more than one OrderCreated, and items accepted more than once at a marketplace."""
    with shop.engine.connect() as conn:
        created = conn.execute(
            select(func.count())
            .select_from(tables.order_events)
            .where(tables.order_events.c.type == "OrderCreated")
            .group_by(tables.order_events.c.order_id)
            .having(func.count() > 1)
        ).all()
        locks = conn.execute(select(func.count()).select_from(tables.marketplace_stock_locks)).scalar_one()
        items = conn.execute(select(func.count()).select_from(tables.order_items)).scalar_one()
    accepted_twice = sum(1 for k in KINDS for n in shop.sims[k].world.accept_calls.values() if n > 1)
    return {
        "duplicate_order_created": len(created),
        "locks_over_items": max(0, locks - items),
        "accepted_twice": accepted_twice,
    }


def run_shop(shop: Shop, args: argparse.Namespace, seed: int, realtime: bool, results: dict[str, Any]) -> None:
    stop = threading.Event()
    service: RealtimeService | None = None
    notifier: Notifier | None = None
    if realtime:
        with shop.engine.connect() as conn:
            rows = [find_marketplace(conn, shop.refs[k].code) for k in KINDS]
        service = RealtimeService(shop.engine, rows, RealtimeOptions(port=0)).start()
        secret = os.environ[f"LATENCY_{shop.name.upper()}_NOTIFY_SECRET"]
        notifier = Notifier(
            f"{service.url}/notifications/{shop.refs['refurbed'].code}",
            secret,
            delay=NOTIFICATION_DELAY,
            duplicate_rate=0.1,
            seed=seed,
        ).attach(shop.sims["refurbed"].world)
    threads = [
        threading.Thread(target=scheduled_cycles, args=(shop, stop, args.cadence_scale, random.Random(seed + 1))),
        threading.Thread(target=watch_listings, args=(shop, stop)),
    ]
    for thread in threads:
        thread.start()
    duration = args.minutes * 60.0
    started = time.monotonic()
    race_threads = races(shop, random.Random(seed + 2), duration - 31.0)
    arrivals(shop, seed + 3, started + duration, args.orders_per_minute)
    for thread in race_threads:
        thread.join()
    # Today's way may take up to a cadence more to lower the last orders.
    deadline = time.monotonic() + NEW_SYNC_EVERY * args.cadence_scale + SENSOR_EVERY * args.cadence_scale + 60
    while time.monotonic() < deadline and any(o.seen is None for o in shop.orders):
        time.sleep(0.2)
    stop.set()
    for thread in threads:
        thread.join(timeout=120)
    if notifier is not None:
        notifier.stop()
    if service is not None:
        service.stop()
    by_way: dict[str, list[float]] = {}
    for order in shop.orders:
        if order.seen is not None:
            way = ("notification" if order.origin == "refurbed" else "poll") if realtime else "all"
            by_way.setdefault(way, []).append(order.seen - order.created)
    results[shop.name] = {
        "latency": {way: percentiles(values) for way, values in by_way.items()},
        "never_lowered": sum(1 for o in shop.orders if o.seen is None),
        "races": len(shop.races),
        "double_sales": sum(1 for first, second, _ in shop.races if first and second),
        "double_sale_gaps_s": sorted(round(gap, 1) for first, second, gap in shop.races if first and second),
        "429": sum(sim.faults.limited for sim in shop.sims.values()),
        "requests": {k: sum(sim.faults.requests.values()) for k, sim in shop.sims.items()},
        "cycles": shop.cycles,
        "backstop_events": shop.backstop_events,
        **duplicates(shop),
    }
    if notifier is not None:
        stats = notifier.stats
        results[shop.name]["notifications"] = {
            "sent": stats.attempts,
            "delivered": stats.delivered,
            "duplicates": stats.duplicates,
            "failed": stats.failed,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.latency", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=6.0, help="minutes of orders (default 6)")
    parser.add_argument("--races", type=int, default=40, help="last-unit races on each shop (default 40)")
    parser.add_argument("--orders-per-minute", type=float, default=12.0, help="order arrival rate (default 12)")
    parser.add_argument("--db", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--cadence-scale", type=float, default=1.0, help="today's cadence times this (default 1)")
    parser.add_argument("--seed", type=int, default=16)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("urllib3").setLevel(logging.ERROR)
    # Enough SKUs that an order never waits for a free one, even while today's way takes minutes.
    skus = max(40, int(args.orders_per_minute * (NEW_SYNC_EVERY * args.cadence_scale / 60 + 2) * 1.5))
    results: dict[str, Any] = {}
    with (
        open_shop("realtime", args.db, skus, args.races, args.seed, notify_secret="latency-notify-secret") as fast,
        open_shop("scheduled", args.db, skus, args.races, args.seed, notify_secret=None) as slow,
    ):
        threads = [
            threading.Thread(target=run_shop, args=(fast, args, args.seed, True, results)),
            # The same seed: both shops get the same orders and races at the same moments.
            threading.Thread(target=run_shop, args=(slow, args, args.seed, False, results)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    _print(results, args)
    rt, sc = results["realtime"], results["scheduled"]
    summary = {
        "races": rt["races"],
        "realtime": {
            "notification": rt["latency"].get("notification", percentiles([])),
            "poll": rt["latency"].get("poll", percentiles([])),
            "double_sales": rt["double_sales"],
            "double_sale_gaps_s": rt["double_sale_gaps_s"],
            "429": rt["429"],
            "never_lowered": rt["never_lowered"],
            "duplicate_order_created": rt["duplicate_order_created"],
            "accepted_twice": rt["accepted_twice"],
            "backstop_events": rt["backstop_events"],
            "notifications": rt.get("notifications"),
        },
        "scheduled": {
            **sc["latency"].get("all", percentiles([])),
            "double_sales": sc["double_sales"],
            "races": sc["races"],
            "429": sc["429"],
            "cycles": sc["cycles"],
            "never_lowered": sc["never_lowered"],
        },
        "cadence_scale": args.cadence_scale,
        "minutes": args.minutes,
        "db": args.db,
    }
    fast_p50 = [v["p50_s"] for v in rt["latency"].values() if v["p50_s"]]
    if fast_p50 and summary["scheduled"]["p50_s"]:
        summary["p50_ratio"] = round(summary["scheduled"]["p50_s"] / max(fast_p50), 1)
    print(json.dumps(summary))
    return 0


def _print(results: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"{args.minutes:g} min of orders at {args.orders_per_minute:g}/min, {args.races} races per shop, {args.db}")
    print(f"{'shop / way':<26}{'orders':>7}{'p50 s':>9}{'p95 s':>9}{'p99 s':>9}{'max s':>9}")
    for shop, result in results.items():
        for way, stats in sorted(result["latency"].items()):
            cells = [stats[k] if stats[k] is not None else "-" for k in ("p50_s", "p95_s", "p99_s", "max_s")]
            print(f"{shop + ' / ' + way:<26}{stats['orders']:>7}" + "".join(f"{c:>9}" for c in cells))
    for shop, result in results.items():
        print(
            f"{shop}: double sales {result['double_sales']} of {result['races']} races"
            f" (seconds between the two customers: {result['double_sale_gaps_s'][:10]}), "
            f"429 answers {result['429']}, requests {result['requests']}, never lowered {result['never_lowered']}, "
            f"scheduled cycles {result['cycles']} (events they wrote {result['backstop_events']}), "
            f"duplicate OrderCreated {result['duplicate_order_created']}, accepted twice {result['accepted_twice']}"
        )


if __name__ == "__main__":
    raise SystemExit(main())
