"""A simulator: its world, its fault knobs and its HTTP server on a thread of its own, on 127.0.0.1.

A marketplace's simulator names its classes and says how it is run by hand (``title``,
``default_port``, ``token_env``, ``demo_token``).
"""

from __future__ import annotations

import threading
from typing import Any, Self

from .server import SimulatorServer

HOST = "127.0.0.1"


class RunningSimulator:
    name = "simulator"
    #: the marketplace's name for people, and how ``python -m ordersync_pipeline.simulator`` runs it
    title = "Simulator"
    default_port = 0
    token_env = ""
    demo_token = ""
    world_class: Any = None
    faults_class: Any = None
    handler_class: Any = None

    _server: SimulatorServer | None = None
    _thread: threading.Thread | None = None

    def __init__(
        self,
        tokens: set[str] | frozenset[str] | list[str] | None = None,
        seed: int = 7,
        orders: int = 20,
        skus: Any = None,
        port: int = 0,
        *,
        latency: float = 0.0,
        rate_limit: tuple[int, float] | None = None,
        verbose: bool = False,
        **world_options: Any,
    ) -> None:
        """``world_options`` go to the world (``arrivals_per_hour``, and the marketplace's own)."""
        self.tokens = set(tokens) if tokens is not None else {self.demo_token}
        self.port = port
        self.verbose = verbose
        self.world = self.world_class(seed=seed, orders=orders, skus=skus, **world_options)
        self.faults = self.faults_class(latency=latency, rate_limit=rate_limit)

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the simulator is not started")
        return f"http://{HOST}:{self._server.server_address[1]}"

    def _started(self) -> None:
        """Called once the server listens, before it serves."""

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = SimulatorServer(
            (HOST, self.port), self.handler_class, self.world, self.faults, self.tokens, self.verbose
        )
        self._started()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name=self.name, daemon=True
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
