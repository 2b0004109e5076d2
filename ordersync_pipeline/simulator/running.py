"""Starting and stopping a simulator's HTTP server on a thread of its own, on 127.0.0.1."""

from __future__ import annotations

import threading
from typing import Any, Self

HOST = "127.0.0.1"


class RunningSimulator:
    """Subclasses set ``world``, ``faults``, ``tokens``, ``port``, ``verbose`` and ``server_class``."""

    name = "simulator"
    server_class: Any = None

    _server: Any = None
    _thread: threading.Thread | None = None

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
        self._server = self.server_class((HOST, self.port), self.world, self.faults, self.tokens)
        self._server.verbose = self.verbose
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
