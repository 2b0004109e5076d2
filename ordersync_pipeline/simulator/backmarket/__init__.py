"""A fake Back Market seller API on 127.0.0.1, faithful to Back Market's OpenAPI document.

with BackMarketSimulator(tokens={"demo-backmarket-token"}, seed=7, orders=20) as sim:
    sim.url              # http://127.0.0.1:PORT
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


class BackMarketSimulator(RunningSimulator):
    name = "backmarket-simulator"
    server_class = SimulatorServer

    def __init__(
        self,
        tokens: set[str] | frozenset[str] | list[str] = frozenset({"demo-backmarket-token"}),
        seed: int = 7,
        orders: int = 20,
        skus: Any = None,
        port: int = 0,
        *,
        latency: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        arrivals_per_hour: float = 6.0,
        lines_per_order: int | None = None,
        verbose: bool = False,
        clock_start: datetime | None = None,
    ) -> None:
        self.tokens = set(tokens)
        self.port = port
        self.verbose = verbose
        self.world = World(
            seed=seed,
            orders=orders,
            skus=skus,
            arrivals_per_hour=arrivals_per_hour,
            lines_per_order=lines_per_order,
            clock_start=clock_start,
        )
        self.faults = Faults(latency=latency, rate_limit=rate_limit)

    def _started(self) -> None:
        self.world.base_url = self.url  # the listing's `next` links are absolute


__all__ = ["DELETE", "ApiError", "BackMarketSimulator", "Faults", "World"]
