"""``python -m ordersync_pipeline.simulator``: run a fake marketplace in the foreground until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from datetime import datetime

from ordersync_pipeline.simulator import SIMULATORS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ordersync_pipeline.simulator", description=__doc__)
    parser.add_argument("--kind", choices=sorted(SIMULATORS), default="backmarket", help="marketplace to simulate")
    parser.add_argument(
        "--port", type=int, default=None, help="port on 127.0.0.1 (0 picks a free one; default 8710, Refurbed 8720)"
    )
    parser.add_argument("--orders", type=int, default=20, help="orders seeded at start")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skus", type=int, default=None, help="number of listings (default: the built-in dozen)")
    parser.add_argument(
        "--token-env",
        default=None,
        help="variable holding the token (default BACKMARKET_FR_TOKEN, Refurbed REFURBED_DE_TOKEN; if unset: "
        "demo-backmarket-token, demo-refurbed-token)",
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every API answer")
    parser.add_argument("--rate-limit", type=int, default=None, help="answer 429 above this many requests per 10 s")
    parser.add_argument(
        "--faults",
        type=json.loads,
        default=None,
        metavar="JSON",
        help='fault modes, as the /_sim/faults control API takes them, e.g. \'{"seed": 1, "error_rate": 0.1}\'',
    )
    parser.add_argument(
        "--notify-url",
        default=None,
        help="Refurbed: send an order notification there for each new order (e.g. "
        "http://127.0.0.1:8730/notifications/refurbed-de), the secret from --notify-secret-env",
    )
    parser.add_argument("--notify-secret-env", default="REFURBED_DE_NOTIFY_SECRET", help="variable holding it")
    parser.add_argument(
        "--clock-start",
        type=datetime.fromisoformat,
        default=None,
        metavar="ISO_TIME",
        help="where the simulated clock starts, e.g. 2026-11-01T00:00+00:00 (default: now)",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    args = parser.parse_args(argv)

    simulator_class = SIMULATORS[args.kind]
    token = os.environ.get(args.token_env or simulator_class.token_env) or simulator_class.demo_token
    sim = simulator_class(
        tokens={token},
        seed=args.seed,
        orders=args.orders,
        skus=args.skus,
        port=simulator_class.default_port if args.port is None else args.port,
        latency=args.latency,
        rate_limit=(args.rate_limit, 10.0) if args.rate_limit else None,
        verbose=args.verbose,
        clock_start=args.clock_start,
    )
    if args.faults:
        sim.faults.configure(**args.faults)
    notifier = None
    if args.notify_url and args.kind == "refurbed":
        from ordersync_pipeline.simulator.refurbed.notifications import Notifier

        notifier = Notifier(args.notify_url, os.environ.get(args.notify_secret_env)).attach(sim.world)
    sim.start()
    print(
        f"{simulator_class.title} simulator on {sim.url} ({args.orders} orders, seed {args.seed}); Ctrl-C to stop",
        flush=True,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if notifier is not None:
            notifier.stop()
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
