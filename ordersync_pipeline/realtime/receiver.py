"""The HTTP receiver of order notifications (Refurbed's Instant Order Notifications).

``POST /notifications/<marketplace code>`` with ``{"order_id": <int>}``. The notification carries
no signature, so the sender proves itself with the secret configured for the marketplace (the
variable named by its ``notification_secret_env`` setting, read like the tokens): as
``Authorization: Bearer <secret>``, or as a last path segment (``/notifications/<code>/<secret>``)
for a sender that can only be given a URL. Answers:

- 404 to any other path, or a path secret that is not the one (nothing tells a guess it was close);
- 401 without the secret, or with a wrong one;
- 411/413 to a body without a length or longer than ``MAX_BODY`` bytes (never read);
- 400 to a body that is not ``{"order_id": <int>}``;
- 503 when the notification could not be stored (the marketplace retries), or when too many
  requests are in flight at once;
- 200 once the notification is committed to the inbox (``{"stored": true}``, or false for a
  repeat, which changes nothing else).

Nothing of a request (its path, which may carry the secret, or its headers) is logged.
"""

from __future__ import annotations

import hmac
import json
import logging
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from sqlalchemy import Engine

from ordersync_pipeline.realtime import inbox
from ordersync_pipeline.realtime.worker import Worker

log = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8730
PATH_PREFIX = "/notifications/"
#: a notification is a few dozen bytes; anything much longer is not one
MAX_BODY = 1024
#: requests handled at once; past it the answer is 503 at once (the sender retries)
MAX_IN_FLIGHT = 32
#: seconds a client may take to send its request
READ_TIMEOUT = 5.0
MAX_ORDER_ID = 2**63 - 1


@dataclass(frozen=True)
class Endpoint:
    """One marketplace that may notify: its row id, code and secret."""

    marketplace_id: int
    code: str
    secret: str = ""

    def __repr__(self) -> str:  # the secret stays out of every repr and log line
        return f"Endpoint(marketplace_id={self.marketplace_id}, code={self.code!r})"


def order_id_of(body: bytes) -> str:
    """The order id of a notification body; ``ValueError`` naming what is wrong."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ValueError("the body is not JSON") from None
    if not isinstance(data, dict) or "order_id" not in data:
        raise ValueError('the body is not {"order_id": <int>}')
    value = data["order_id"]
    # int64 ids may travel as JSON strings in Refurbed's API: digits are taken either way.
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ORDER_ID:
        raise ValueError("order_id is not a positive integer")
    return str(value)


class ReceiverServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # A bounded number of handlers at once; the listen queue holds the rest briefly.
    request_queue_size = 64

    def __init__(
        self,
        address: tuple[str, int],
        engine: Engine,
        endpoints: dict[str, Endpoint],
        on_stored: Callable[[Endpoint, str, bool], None] = lambda _e, _o, _n: None,
    ) -> None:
        super().__init__(address, ReceiverHandler)
        self.engine = engine
        self.endpoints = endpoints
        self.on_stored = on_stored
        self.in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self.counts: dict[int, int] = {}
        self._counts_lock = threading.Lock()

    def count(self, status: int) -> None:
        with self._counts_lock:
            self.counts[status] = self.counts.get(status, 0) + 1


class ReceiverHandler(BaseHTTPRequestHandler):
    server: ReceiverServer
    protocol_version = "HTTP/1.1"
    server_version = "ordersync-receiver"
    sys_version = ""

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(READ_TIMEOUT)
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a path may carry the secret

    def do_POST(self) -> None:
        if not self.server.in_flight.acquire(blocking=False):
            self._answer(503, {"error": "busy, retry later"}, close=True)
            return
        try:
            self._notification()
        finally:
            self.server.in_flight.release()

    def do_GET(self) -> None:
        self._answer(404 if not self.path.startswith(PATH_PREFIX) else 405, {"error": "POST a notification"})

    do_PUT = do_DELETE = do_PATCH = do_GET

    def _notification(self) -> None:
        endpoint, path_secret = self._endpoint()
        if endpoint is None:
            self._answer(404, {"error": "not found"}, close=True)
            return
        if path_secret is not None:
            if not _same(path_secret, endpoint.secret):
                self._answer(404, {"error": "not found"}, close=True)
                return
        else:
            scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
            if scheme.lower() != "bearer" or not _same(given.strip(), endpoint.secret):
                self._answer(401, {"error": "the notification secret is missing or wrong"}, close=True)
                return
        if self.headers.get("Transfer-Encoding") or self.headers.get("Content-Length") is None:
            self._answer(411, {"error": "a Content-Length is required"}, close=True)
            return
        try:
            length = int(self.headers["Content-Length"])
        except ValueError:
            self._answer(400, {"error": "the Content-Length is not a number"}, close=True)
            return
        if length > MAX_BODY or length < 0:
            self._answer(413, {"error": f"a notification is at most {MAX_BODY} bytes"}, close=True)
            return
        try:
            body = self.rfile.read(length)
        except TimeoutError:
            self._answer(408, {"error": "the body did not arrive in time"}, close=True)
            return
        try:
            order_id = order_id_of(body)
        except ValueError as exc:
            self._answer(400, {"error": str(exc)})
            return
        try:
            stored = inbox.store(self.server.engine, endpoint.marketplace_id, order_id)
        except Exception as exc:  # the database is down: not stored, so not acknowledged
            log.warning("%s: notification of order %s not stored: %s", endpoint.code, order_id, type(exc).__name__)
            self._answer(503, {"error": "not stored, retry later"})
            return
        self._answer(200, {"stored": stored})
        self.server.on_stored(endpoint, order_id, stored)

    def _endpoint(self) -> tuple[Endpoint | None, str | None]:
        path = self.path.split("?", 1)[0]
        if not path.startswith(PATH_PREFIX):
            return None, None
        parts = path[len(PATH_PREFIX) :].strip("/").split("/")
        if len(parts) > 2 or not parts[0]:
            return None, None
        endpoint = self.server.endpoints.get(parts[0])
        return endpoint, (parts[1] if len(parts) == 2 else None)

    def _answer(self, status: int, payload: dict[str, Any], close: bool = False) -> None:
        body = json.dumps(payload).encode()
        self.server.count(status)
        if close:
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


def _same(given: str, secret: str) -> bool:
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


class Receiver(Worker):
    """The receiver's server on a thread of its own."""

    join_timeout = 5.0

    def __init__(
        self,
        engine: Engine,
        endpoints: list[Endpoint],
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        on_stored: Callable[[Endpoint, str, bool], None] = lambda _e, _o, _n: None,
    ) -> None:
        super().__init__("ordersync-receiver")
        self.server = ReceiverServer((host, port), engine, {e.code: e for e in endpoints}, on_stored)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def _run(self) -> None:
        self.server.serve_forever(poll_interval=0.1)

    def _stopping(self) -> None:
        self.server.shutdown()
        self.server.server_close()
