"""The Back Market simulator in a child process, so that the pipeline's memory and CPU are its own.

The child holds the simulated account (all N orders) and answers HTTP on 127.0.0.1; the parent
steers it through a pipe: the catalogue, changing a share of the orders, the 429 count, stop.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import random
from typing import Any

from ordersync_pipeline.simulator.backmarket import BackMarketSimulator, World

# A change that the next sync must turn into an OrderStatusChanged: each line state moves on.
_NEXT_STATE = World.NEXT_STATE


def change_orders(sim: BackMarketSimulator, share: float, seed: int) -> int:
    """Move one line of ``share`` of the orders to its next state (stamping their modification date)."""
    world = sim.world
    rng = random.Random(seed)
    with world.lock:
        ids = list(world._ids)
        picked = rng.sample(ids, max(1, int(len(ids) * share)))
        changed = 0
        for order_id in picked:
            order = world._orders[order_id]
            line = next((line for line in order.lines if line.state in _NEXT_STATE), None)
            if line is not None:
                world.set_line_state(order_id, line.id, _NEXT_STATE[line.state])
                changed += 1
        return changed


def _serve(conn: Any, options: dict[str, Any]) -> None:
    sim = BackMarketSimulator(**options).start()
    conn.send(sim.url)
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                break
            if command == "catalogue":
                conn.send(sim.world.catalogue())
            elif command == "listed":
                with sim.world.lock:
                    conn.send(len(sim.world._listed_ids(None, None, None, None)))
            elif command == "change":
                conn.send(change_orders(sim, *args))
            elif command == "limited":
                conn.send(sim.faults.limited)
            else:
                conn.send(ValueError(f"unknown command {command!r}"))
    finally:
        sim.stop()
        conn.close()


class SimulatorProcess:
    """``with SimulatorProcess(orders=100_000, lines_per_order=2) as sim: sim.url``"""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._conn: Any = None
        self._process: multiprocessing.Process | None = None
        self.url = ""

    def start(self) -> SimulatorProcess:
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.options), name="simulator", daemon=True)
        self._process.start()
        child.close()
        self._conn = parent
        self.url = parent.recv()
        return self

    def call(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        answer = self._conn.recv()
        if isinstance(answer, Exception):
            raise answer
        return answer

    def stop(self) -> None:
        if self._process is None:
            return
        with contextlib.suppress(BrokenPipeError, OSError):
            self._conn.send(("stop", ()))
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)
        self._conn.close()
        self._process = None

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
