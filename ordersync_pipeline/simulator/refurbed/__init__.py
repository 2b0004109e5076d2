"""A fake Refurbed merchant API on 127.0.0.1, faithful to Refurbed's Swagger document.

with RefurbedSimulator(tokens={"demo-refurbed-token"}, seed=7, orders=20) as sim:
    sim.url              # http://127.0.0.1:PORT
    sim.world.create_order(lines=[{"sku": "IPH13-128-BLK-A", "price": "399.00"}])
    sim.world.advance(minutes=60)
"""

from __future__ import annotations

import threading
from typing import Any

from .faults import Faults
from .model import DELETE, ApiError
from .server import SimulatorServer
from .world import World

HOST = "127.0.0.1"


class RefurbedSimulator:
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
    ) -> None:
        self.tokens = set(tokens)
        self.port = port
        self.verbose = verbose
        self.world = World(seed=seed, orders=orders, skus=skus, arrivals_per_hour=arrivals_per_hour)
        self.faults = Faults(latency=latency, rate_limit=rate_limit)
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> RefurbedSimulator:
        if self._server is not None:
            return self
        self._server = SimulatorServer((HOST, self.port), self.world, self.faults, self.tokens)
        self._server.verbose = self.verbose
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="refurbed-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> RefurbedSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


__all__ = ["DELETE", "ApiError", "Faults", "RefurbedSimulator", "World"]
