"""A fake Refurbed merchant API on 127.0.0.1, faithful to Refurbed's Swagger document.

with RefurbedSimulator(tokens={"demo-refurbed-token"}, seed=7, orders=20) as sim:
    sim.url              # http://127.0.0.1:PORT
    sim.world.create_order(lines=[{"sku": "IPH13-128-BLK-A", "price": "399.00"}])
    sim.world.advance(minutes=60)
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ordersync_pipeline.simulator.running import RunningSimulator

from .faults import Faults
from .model import DELETE, ApiError
from .server import SimulatorServer
from .world import World


class RefurbedSimulator(RunningSimulator):
    name = "refurbed-simulator"
    server_class = SimulatorServer

    def __init__(
        self,
        tokens: set[str] | frozenset[str] | list[str] = frozenset({"demo-refurbed-token"}),
        seed: int = 7,
        orders: int = 20,
        skus: Any = None,
        port: int = 0,
        rate_limit: tuple[int, float] | None = None,
        latency: float = 0.0,
        *,
        arrivals_per_hour: float = 6.0,
        verbose: bool = False,
        clock_start: datetime | None = None,
    ) -> None:
        self.tokens = set(tokens)
        self.port = port
        self.verbose = verbose
        self.world = World(
            seed=seed, orders=orders, skus=skus, arrivals_per_hour=arrivals_per_hour, clock_start=clock_start
        )
        self.faults = Faults(latency=latency, rate_limit=rate_limit)


__all__ = ["DELETE", "ApiError", "Faults", "RefurbedSimulator", "World"]
