"""The HTTP side every simulator shares, standard library only: the server, and a handler that
reads the request, applies the fault modes, authenticates, answers (or spoils the answer), and
serves the ``/_sim/`` control API.

A marketplace's handler says where its API lives (``api_prefix``), how callers authenticate
(``authenticate``), what each call answers (``api``), which answers are listing pages with more
to come (``served``), its own control routes (``more_control``) and its errors.
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .chaos import MALFORMED_BODY, truncated
from .wire import json_body


class SimulatorError(Exception):
    """An answer other than success, in the marketplace's own error body."""

    status: int = 500
    #: extra response headers (the rate-limit ones)
    headers: dict[str, str]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
        self.headers = {}

    def answer(self) -> Any:
        """The body of the answer: a JSON value, or bytes."""
        raise NotImplementedError


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self, address: tuple[str, int], handler: type, world: Any, faults: Any, tokens: set[str], verbose: bool
    ) -> None:
        super().__init__(address, handler)
        self.world = world
        self.faults = faults
        self.tokens = set(tokens)
        self.verbose = verbose

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Print what went wrong with a request, unless the client just went away (a killed
        client, a timeout given up on): that is the client's business, as at a real marketplace."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SimulatorHandler(BaseHTTPRequestHandler):
    server: SimulatorServer
    protocol_version = "HTTP/1.1"
    #: where the marketplace's API lives; the rest is ``/_sim/`` control or ``other_route``
    api_prefix = "/"
    #: the content type of an answer given as bytes rather than as a JSON value
    binary_type = "application/octet-stream"

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def setup(self) -> None:
        super().setup()
        # small JSON answers: send them at once instead of waiting on delayed acknowledgements
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    # -- what a marketplace's handler says ------------------------------------------------------

    def refused(self) -> tuple[int, Any] | None:
        """An answer given before the fault modes and authentication, if any."""
        return None

    def authenticate(self) -> None:
        """Raise the marketplace's 401 unless the caller's token is one of ``server.tokens``."""
        raise NotImplementedError

    def api(self, method: str, path: str, params: dict[str, str], body: Any) -> tuple[int, Any]:
        raise NotImplementedError

    def served(self, path: str, payload: Any) -> list[int] | None:
        """The order ids of a listing page that has more to come, else None."""
        return None

    def other_route(self, method: str, path: str) -> tuple[int, Any]:
        raise self.not_found(f"no route for {path}")

    def more_control(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        raise self.not_found(f"no control route for {method} {path}")

    def not_found(self, message: str) -> SimulatorError:
        raise NotImplementedError

    def invalid_json(self) -> SimulatorError:
        raise NotImplementedError

    def invalid_fault(self, message: str) -> SimulatorError:
        """The answer to a fault knob the control API cannot set."""
        raise NotImplementedError

    def internal_error(self, message: str) -> SimulatorError:
        raise NotImplementedError

    # -- plumbing -------------------------------------------------------------------------------

    def _send(
        self, status: int, payload: Any, headers: dict[str, str] | None = None, content_type: str = "application/json"
    ) -> None:
        body = payload if isinstance(payload, bytes) else json_body(payload)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self._headers_buffer.append(b"\r\n")  # headers and body leave in one write
        self._headers_buffer.append(body)
        self.flush_headers()

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError:
            raise self.invalid_json() from None

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        headers: dict[str, str] = {}
        fault = None
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH") else {}
            if path.startswith("/_sim"):
                status, payload = self.control(method, path, body)
            elif not path.startswith(self.api_prefix):
                status, payload = self.other_route(method, path)
            elif (refusal := self.refused()) is not None:
                status, payload = refusal
            else:
                headers, fault = self.server.faults.before_request(path, self.path)
                self.authenticate()
                params = dict(parse_qsl(url.query, keep_blank_values=True))
                status, payload = self.api(method, path, params, body)
                served = self.served(path, payload)
                if served is not None:
                    self.server.faults.between_pages(self.server.world, self.path, served)
        except SimulatorError as exc:
            status, payload = exc.status, exc.answer()
            headers = exc.headers or headers
        except Exception as exc:  # a simulator bug answers like a server error, with the trace on stderr
            traceback.print_exc()
            status, payload = 500, self.internal_error(str(exc)).answer()
        if fault is None:
            content_type = self.binary_type if isinstance(payload, bytes) else "application/json"
            self._send(status, payload, headers, content_type)
        else:
            self._send_spoiled(fault, status, payload, headers)

    def _send_spoiled(self, fault: str, status: int, payload: Any, headers: dict[str, str]) -> None:
        """The answer as the fault spoils it: late, never, cut short or not JSON."""
        if fault in ("timeout", "hang"):
            time.sleep(self.server.faults.chaos.timeout_seconds)
        if fault == "hang":
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = payload if isinstance(payload, bytes) else json_body(payload)
        if fault == "truncate":
            self._send(status, truncated(body), headers)
        elif fault == "malformed":
            self._send(status, MALFORMED_BODY, headers, "text/html")
        else:
            self._send(status, body, headers)

    # -- /_sim/ ---------------------------------------------------------------------------------

    def control(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """The control API: the world's state, its clock, a reset, the fault knobs, and more."""
        world, faults = self.server.world, self.server.faults
        body = body if isinstance(body, dict) else {}
        if path == "/_sim/state" and method == "GET":
            return 200, {**world.state(), "faults": faults.describe()}
        if path == "/_sim/advance" and method == "POST":
            done = world.advance(minutes=float(body.get("minutes", 60)), steps=int(body.get("steps", 1)))
            return 200, {"changes": done, **world.state()}
        if path == "/_sim/reset" and method == "POST":
            world.reset()
            return 200, world.state()
        if path == "/_sim/faults" and method in ("GET", "POST"):
            if method == "POST":
                try:
                    faults.configure(**body)
                except (TypeError, ValueError) as exc:
                    raise self.invalid_fault(str(exc)) from None
            return 200, faults.describe()
        return self.more_control(method, path, body)
