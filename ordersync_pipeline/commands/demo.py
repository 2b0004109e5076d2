"""``ordersync demo``: the simulator, a sync, time moved on, another sync, and what happened;
with ``--ui``, then the Dagster UI and daemon on the same order book, the simulators still running."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from urllib.parse import urlparse

import yaml
from rich.table import Table
from sqlalchemy import func, select

from ordersync_pipeline import console, settings
from ordersync_pipeline.commands import stock, sync
from ordersync_pipeline.db.tables import order_events, orders
from ordersync_pipeline.defs.resources import OrdersyncDatabase
from ordersync_pipeline.launch import RunFailed
from ordersync_pipeline.marketplaces.registry import load_config
from ordersync_pipeline.problems import SetupProblem
from ordersync_pipeline.simulator import DEMO_TOKENS, SIMULATORS
from ordersync_pipeline.simulator.backmarket import BackMarketSimulator, catalog
from ordersync_pipeline.stock import seed_stock


def run(
    steps: int = 3, orders_at_start: int = 20, ui: bool = False, ui_port: int = 3000, free_ports: bool = False
) -> int:
    entries = [e for e in load_config(settings.DEFAULT_CONFIG) if e.active]
    demo_dir = settings.data_dir() / "demo"
    shutil.rmtree(demo_dir, ignore_errors=True)  # each demo starts from a new order book
    demo_dir.mkdir(parents=True)
    simulators = []
    try:
        for entry in entries:
            token = os.environ.setdefault(entry.token_env, DEMO_TOKENS[entry.kind])
            port = 0 if free_ports else urlparse(entry.base_url).port
            # One seed for all: every simulator lists the same catalogue, sold from one stock.
            simulator = SIMULATORS[entry.kind](tokens={token}, seed=7, orders=orders_at_start, port=port)
            try:
                simulators.append(simulator.start())
            except OSError as exc:
                raise SetupProblem(
                    f"the {entry.kind} simulator cannot listen on 127.0.0.1:{port} ({exc.strerror}); "
                    "is another demo or simulator running?"
                ) from None
        # The demo's own marketplace file: the packaged one, at the addresses the simulators got.
        config_path = _write_config(demo_dir, {e.code: s.url for e, s in zip(entries, simulators, strict=True)})
        database = OrdersyncDatabase(url=f"sqlite:///{demo_dir / 'ordersync.db'}", config_path=str(config_path))
        console.console.print(
            f"Simulator{'s' if len(simulators) > 1 else ''} at {', '.join(s.url for s in simulators)}"
        )
        console.console.print(f"Order book: {database.url}\n")
        # The seller's stock: what each simulator lists now, one pool shared by every marketplace.
        for entry, simulator in zip(entries, simulators, strict=True):
            seed_stock(database.engine(), simulator.world.catalogue(), [entry.code])
        try:
            console.console.rule("First sync")
            _sync_and_push(database)
            for step in range(1, steps + 1):
                for simulator in simulators:
                    simulator.world.advance(minutes=60, steps=1)
                console.console.rule(f"An hour later ({step}/{steps})")
                _sync_and_push(database)
            console.console.rule("Reconciliation: listings edited in the back offices, one made by hand")
            _drift(simulators)
            stock.reconcile(database=database)
        except RunFailed as exc:
            console.error(str(exc))
            return 1
        _print_order_book(database)
        stock.summary(database.order_book)
        if ui:
            from ordersync_pipeline.commands import demo_ui

            return demo_ui.serve(database.url, config_path, simulators, ui_port)
        console.console.print(
            f"\nThe runs are in the Dagster instance at {os.environ['DAGSTER_HOME']}. "
            "`ordersync demo --ui` runs the demo again and then opens the Dagster UI on its order book,"
            " with the simulators, schedules and sensors live."
        )
        return 0
    finally:
        for simulator in simulators:
            simulator.stop()


def _drift(simulators) -> None:
    """What people do behind ordersync's back: a quantity raised, another lowered, a listing made by hand."""
    for n, simulator in enumerate(simulators):
        world = simulator.world
        first, second = (x["sku"] for x in world.catalogue()[n : n + 2])
        world.set_listing_quantity(first, world.listing_quantity(first) + 3)
        world.set_listing_quantity(second, max(0, world.listing_quantity(second) - 2))
        if isinstance(simulator, BackMarketSimulator):
            catalog.create_listing(world, "DEMO-HANDMADE-1", 2, "Listed by hand in the back office")


def _write_config(demo_dir: Path, urls: dict[str, str]) -> Path:
    config = yaml.safe_load(settings.DEFAULT_CONFIG.read_text())
    for entry in config["marketplaces"]:
        entry["base_url"] = urls.get(entry["code"], entry["base_url"])
        if entry["kind"] == "refurbed":
            # The real-time process beside the UI receives the simulator's order notifications.
            from ordersync_pipeline.commands.demo_ui import DEMO_NOTIFY_SECRET, NOTIFY_SECRET_ENV

            os.environ.setdefault(NOTIFY_SECRET_ENV, DEMO_NOTIFY_SECRET)
            entry.setdefault("settings", {})["notification_secret_env"] = NOTIFY_SECRET_ENV
    path = demo_dir / "marketplaces.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _sync_and_push(database: OrdersyncDatabase) -> None:
    console.print_sync_summary(sync.run(sync.SyncRequest(), database))
    stock.run(apply=True, push=True, database=database)


def _print_order_book(database: OrdersyncDatabase) -> None:
    engine = database.engine()
    with engine.connect() as conn:
        by_status = conn.execute(select(orders.c.status, func.count()).group_by(orders.c.status)).all()
        by_event = conn.execute(select(order_events.c.type, func.count()).group_by(order_events.c.type)).all()
    table = Table(title="Order book after the demo")
    table.add_column("what")
    table.add_column("count", justify="right")
    for status, count in sorted(by_status):
        table.add_row(f"orders {status}", str(count))
    for kind, count in sorted(by_event):
        table.add_row(f"events {kind}", str(count))
    console.console.print(table)
