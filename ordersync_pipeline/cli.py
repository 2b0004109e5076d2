"""The ``ordersync`` command: ``ordersync sync --type new --marketplace 1`` and friends."""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from datetime import datetime
from pathlib import Path

from ordersync_pipeline import console
from ordersync_pipeline.problems import explain
from ordersync_pipeline.sync.options import DAYS_BACK, PAGE_SIZE, SYNC_TYPE_NAMES, Bounds

SYNC_TYPES = (*SYNC_TYPE_NAMES, "all")
#: the kinds ``ordersync_pipeline.simulator.SIMULATORS`` runs; the simulators themselves are
#: imported only by the commands that start one
SIMULATOR_KINDS = ("backmarket", "refurbed")


def _int_range(low: int, high: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is outside {low}..{high}")
        return value

    return parse


def _bounded(bounds: Bounds):
    return _int_range(bounds.low, bounds.high)


class _Parser(argparse.ArgumentParser):
    """Bad options are a fatal error like any other: one line, exit status 1."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ordersync",
        description="Sync marketplace orders into the order book, lock and push stock.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log each request and write")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sync = commands.add_parser("sync", help="sync orders from the marketplaces (runs the Dagster assets)")
    sync.add_argument("--type", dest="sync_type", choices=SYNC_TYPES, default="all", help="sync type (default: all)")
    sync.add_argument("--marketplace", metavar="ID_OR_CODE", help="one marketplace (default: every active one)")
    sync.add_argument(
        "--page-size",
        type=_bounded(PAGE_SIZE),
        default=PAGE_SIZE.default,
        help=f"orders per page, {PAGE_SIZE.low}..{PAGE_SIZE.high}; a marketplace that takes fewer gets its most"
        f" (default: {PAGE_SIZE.default})",
    )
    sync.add_argument(
        "--days-back",
        type=_bounded(DAYS_BACK),
        default=DAYS_BACK.default,
        help=f"incomplete sync look-back in days, {DAYS_BACK.low}..{DAYS_BACK.high} (default: {DAYS_BACK.default})",
    )
    sync.add_argument("--no-stock", action="store_true", help="do not apply events and push stock afterwards")
    sync.add_argument(
        "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log each request and write"
    )

    demo = commands.add_parser("demo", help="start the simulator, sync, move time on, sync again")
    demo.add_argument("--steps", type=_int_range(1, 50), default=3, help="times to move the simulator on (default: 3)")
    demo.add_argument("--orders", type=_int_range(0, 10_000), default=20, help="orders the simulator starts with")
    demo.add_argument(
        "--ui", action="store_true", help="then run the Dagster UI and daemon on the demo's data until Ctrl-C"
    )
    demo.add_argument("--ui-port", type=_int_range(1, 65535), default=3000, help="the UI's port (default: 3000)")
    demo.add_argument("--free-ports", action="store_true", help="simulators on free ports instead of 8710 and 8720")

    stock = commands.add_parser("stock", help="stock: import, apply events, push, summary")
    stock_commands = stock.add_subparsers(dest="stock_command", required=True, metavar="ACTION")
    stock_import = stock_commands.add_parser(
        "import",
        help="set on-hand quantities and listings from a CSV (sku,on_hand,listing:<code>,listing_sku:<code>,...)",
    )
    stock_import.add_argument("file", type=Path, help="the CSV file")
    stock_import.add_argument(
        "--counted-at",
        type=_count_time,
        default=None,
        metavar="TIME",
        help="when the shelf was counted, ISO 8601 (e.g. 2026-12-01T18:30+01:00; no offset: UTC); default: now."
        " Units that left before it are not in the count; units that left after it are taken off",
    )
    stock_commands.add_parser("apply", help="apply pending order events to the stock locks")
    stock_commands.add_parser("push", help="push listing quantities that changed to the marketplaces")
    stock_commands.add_parser("summary", help="on hand, locked and available per SKU")
    reconcile_help = (
        "read every listing back from the marketplaces, compare with the computed quantities, correct"
        " the drifted (a listing below its computed quantity is raised only once a second reading, after"
        " its marketplace's orders were synced again, shows it unmoved)"
    )
    stock_reconcile = stock_commands.add_parser("reconcile", help=reconcile_help, description=reconcile_help)
    stock_reconcile.add_argument("--marketplace", metavar="ID_OR_CODE", help="one marketplace (default: every active)")
    stock_reconcile.add_argument(
        "--dry-run", action="store_true", help="read and compare only: no sync, no push; say what would be done"
    )

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_commands.add_parser("upgrade", help="apply the migrations")

    commands.add_parser("marketplaces", help="list the configured marketplaces")

    check = commands.add_parser(
        "check",
        help="check the setup: configuration, database, Dagster instance, each marketplace's token and clock",
    )
    check.add_argument("--marketplace", metavar="ID_OR_CODE", help="one marketplace (default: every active one)")

    realtime = commands.add_parser(
        "realtime",
        help="take orders in within seconds: receive Refurbed's notifications, watch Back Market, push stock at once",
    )
    realtime.add_argument("--host", default="127.0.0.1", help="address the receiver listens on (default: 127.0.0.1)")
    realtime.add_argument("--port", type=_int_range(0, 65535), default=8730, help="receiver port (default: 8730)")
    realtime.add_argument("--marketplace", metavar="ID_OR_CODE", help="one marketplace (default: every active one)")
    realtime.add_argument("--no-receive", action="store_true", help="do not receive notifications")
    realtime.add_argument("--no-watch", action="store_true", help="do not watch Back Market")

    simulator = commands.add_parser("simulator", help="run a marketplace simulator in the foreground")
    simulator.add_argument("--kind", choices=SIMULATOR_KINDS, default="backmarket", help="marketplace kind")
    simulator.add_argument("--port", type=_int_range(1, 65535), default=None, help="default: the kind's own port")
    simulator.add_argument("--orders", type=_int_range(0, 1_000_000), default=20)
    simulator.add_argument("--seed", type=int, default=7)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        logging.getLogger("dagster").setLevel(logging.ERROR)
        # Each retry is logged as a warning; the error after the last one is what is reported.
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        console.errors.print("interrupted")
        return 130
    except Exception as exc:
        # Whatever went wrong is one line; the traceback is for -v.
        if args.verbose:
            traceback.print_exc()
        console.error(explain(exc))
        return 1


def _count_time(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time, such as 2026-12-01T18:30:00Z") from None


def _dispatch(args: argparse.Namespace) -> int:
    from ordersync_pipeline.commands import stock

    if args.command == "sync":
        from ordersync_pipeline.commands import sync

        request = sync.SyncRequest(args.sync_type, args.marketplace, args.page_size, args.days_back, args.verbose)
        reports = sync.run(request)
        console.print_sync_summary(reports)
        if not args.no_stock:
            return stock.run(apply=True, push=True)
        return 0
    if args.command == "stock":
        if args.stock_command == "import":
            return stock.import_file(args.file, counted_at=args.counted_at)
        if args.stock_command == "summary":
            return stock.summary()
        if args.stock_command == "reconcile":
            return stock.reconcile(args.marketplace, args.dry_run)
        return stock.run(apply=args.stock_command == "apply", push=args.stock_command == "push")
    if args.command == "demo":
        from ordersync_pipeline.commands import demo

        return demo.run(
            steps=args.steps, orders_at_start=args.orders, ui=args.ui, ui_port=args.ui_port, free_ports=args.free_ports
        )
    if args.command == "db":
        from ordersync_pipeline.db.engine import current_revision
        from ordersync_pipeline.order_book import OrderBook

        engine = OrderBook(apply_config=False).open()
        console.console.print(f"database at revision {current_revision(engine)}")
        return 0
    if args.command == "check":
        from ordersync_pipeline.commands import check

        return check.run(args.marketplace)
    if args.command == "marketplaces":
        from ordersync_pipeline.commands import marketplaces

        marketplaces.show()
        return 0
    if args.command == "realtime":
        from ordersync_pipeline.commands import realtime
        from ordersync_pipeline.realtime.service import RealtimeOptions

        options = RealtimeOptions(args.host, args.port, receive=not args.no_receive, watch=not args.no_watch)
        return realtime.run(options, args.marketplace)
    if args.command == "simulator":
        from ordersync_pipeline.simulator.__main__ import main as simulator_main

        port = ["--port", str(args.port)] if args.port else []
        return simulator_main(["--kind", args.kind, *port, "--orders", str(args.orders), "--seed", str(args.seed)])
    raise AssertionError(args.command)


if __name__ == "__main__":
    sys.exit(main())
