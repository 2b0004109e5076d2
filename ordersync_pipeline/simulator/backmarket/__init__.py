"""A fake Back Market seller API on 127.0.0.1, faithful to Back Market's OpenAPI document.

with BackMarketSimulator(tokens={"demo-backmarket-token"}, seed=7, orders=20) as sim:
    sim.url              # http://127.0.0.1:PORT
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


class BackMarketSimulator:
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
    ) -> None:
        self.tokens = set(tokens)
        self.port = port
        self.verbose = verbose
        self.world = World(
            seed=seed, orders=orders, skus=skus, arrivals_per_hour=arrivals_per_hour, lines_per_order=lines_per_order
        )
        self.faults = Faults(latency=latency, rate_limit=rate_limit)
        self._server: SimulatorServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def start(self) -> BackMarketSimulator:
        if self._server is not None:
            return self
        self._server = SimulatorServer((HOST, self.port), self.world, self.faults, self.tokens)
        self._server.verbose = self.verbose
        self.world.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="backmarket-simulator", daemon=True
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

    def __enter__(self) -> BackMarketSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


__all__ = ["DELETE", "ApiError", "BackMarketSimulator", "Faults", "World"]
