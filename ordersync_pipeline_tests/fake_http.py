"""What the tests' small fake marketplace servers share: a loopback server, serving it for a test,
writing an answer."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def send_json(handler: BaseHTTPRequestHandler, status: int, body: Any, headers: dict[str, str]) -> None:
    """Answer with ``body`` as JSON (or as is, when it is bytes) and the extra ``headers``."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class QuietHandler(BaseHTTPRequestHandler):
    """A handler that keeps its access log off the test output."""

    def log_message(self, *args: Any) -> None:
        pass


def loopback_server(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str, threading.Thread]:
    """A server for ``handler`` on a free port of 127.0.0.1, its URL, and the (unstarted) thread
    that serves it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    return server, f"http://127.0.0.1:{server.server_address[1]}", thread


@contextmanager
def serving(fake: Any) -> Iterator[Any]:
    """Serve ``fake`` (an object with the ``server`` and ``thread`` of :func:`loopback_server`) for the
    length of the block, then stop it and free its port."""
    fake.thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()
