"""HTTP access to Refurbed's merchant API: one JSON POST per RPC, pacing, retries, error translation.

Every call is ``POST {base_url}/refb.merchant.v1.<Service>/<Method>`` with a JSON body. Two retry
policies, because what is safe to repeat differs by call:

- reads (ListOrders, GetOrder) and absolute stock updates (BatchUpdateOffers) are retried on 5xx
  and connection failures (urllib3), and on 429 once the rate-limit window has reset (here);
- item state updates (accepting) are never resent: whether a repeat is harmless is not something
  to assume, and the sync records each attempt's outcome instead.

A repeatable call whose 2xx body is not JSON (a proxy's error page, a body cut short) is sent
again too, with the same backoff; urllib3 only sees the status, so that retry lives here.

Refurbed publishes no limit, but answers carry ``X-RateLimit-Limit/Remaining/Reset``: when
Remaining reaches 0 the next call waits for Reset instead of earning a 429.
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from urllib3.util.retry import Retry

from ordersync_pipeline.marketplaces import sessions
from ordersync_pipeline.marketplaces.base import (
    AuthenticationError,
    MalformedAnswer,
    MarketplaceConfig,
    MarketplaceError,
)
from ordersync_pipeline.marketplaces.sessions import Answer, HttpPool, Unreachable, timeout_of

log = logging.getLogger(__name__)

API_PREFIX = "refb.merchant.v1"
DEFAULT_USER_AGENT = "ordersync/1.0 (order and stock sync; ops@example.com)"
RETRY_STATUSES = frozenset({500, 502, 503, 504})  # 429 is paced by the rate-limit headers instead

# google.rpc.Code, the `code` of Refurbed's error bodies.
RPC_CODES = {
    0: "OK",
    1: "CANCELLED",
    2: "UNKNOWN",
    3: "INVALID_ARGUMENT",
    4: "DEADLINE_EXCEEDED",
    5: "NOT_FOUND",
    6: "ALREADY_EXISTS",
    7: "PERMISSION_DENIED",
    8: "RESOURCE_EXHAUSTED",
    9: "FAILED_PRECONDITION",
    10: "ABORTED",
    11: "OUT_OF_RANGE",
    12: "UNIMPLEMENTED",
    13: "INTERNAL",
    14: "UNAVAILABLE",
    15: "DATA_LOSS",
    16: "UNAUTHENTICATED",
}
AUTH_CODES = frozenset({7, 16})


class RefurbedHTTPError(MarketplaceError):
    """A non-2xx answer; keeps the HTTP status and the RPC code so callers can tell them apart."""

    def __init__(self, message: str, status: int, code: int | None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def rpc_name(code: Any) -> str:
    return RPC_CODES.get(code, f"code {code}") if isinstance(code, int) else "no code"


class RateLimit:
    """What the last answer said of the rate-limit window, and the waiting it implies."""

    def __init__(
        self,
        max_wait: float = 60.0,
        margin: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_wait = max_wait
        self.margin = margin
        self._sleep = sleep
        self._clock = clock
        self._lock = threading.Lock()
        self.limit: int | None = None
        self.remaining: int | None = None
        self.reset: float | None = None  # unix seconds
        self.waited = 0.0

    def observe(self, headers: Mapping[str, str], refused: bool = False) -> None:
        limit, remaining, reset = (_number(headers.get(f"X-RateLimit-{n}")) for n in ("Limit", "Remaining", "Reset"))
        with self._lock:
            self.limit = int(limit) if limit is not None else self.limit
            self.remaining = int(remaining) if remaining is not None else None
            self.reset = reset
            if refused:
                # A 429 means the window is spent, whatever the headers say (or if there are none).
                self.remaining = 0
                if self.reset is None:
                    self.reset = self._clock() + 1.0

    def wait_if_exhausted(self) -> float:
        """Sleep until the window resets when the last answer left no request in it (bounded)."""
        with self._lock:
            if self.remaining != 0 or self.reset is None:
                return 0.0
            delay = min(max(0.0, self.reset - self._clock() + self.margin), self.max_wait)
            # The window is assumed fresh after the wait; the next answer says what it really is.
            self.remaining = None
        if delay > 0:
            log.info("Refurbed rate limit reached: waiting %.1f s for the window to reset", delay)
            self._sleep(delay)
            self.waited += delay
        return delay


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


class RefurbedClient:
    def __init__(self, config: MarketplaceConfig) -> None:
        self.code = config.code
        self.base_url = config.base_url.rstrip("/")
        self._token = config.token
        settings = dict(config.settings or {})
        # Every call has a timeout: a silent server must not hang a run.
        self.timeout = timeout_of(settings.get("timeout") or sessions.DEFAULT_TIMEOUT)
        # MarketplaceConfig's default User-Agent follows Back Market's "BM-..." convention: not ours.
        user_agent = settings.get("user_agent") or DEFAULT_USER_AGENT
        headers = {
            "Authorization": f"Plain {config.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": user_agent,
        }
        attempts = int(settings.get("max_retries", 4))
        self.body_attempts = 1 + attempts
        self.backoff = float(settings.get("backoff_factor", 0.5))
        self.backoff_max = float(settings.get("backoff_max", 15.0))
        self.rate_limit_retries = int(settings.get("rate_limit_retries", 3))
        self.rate_limit = RateLimit(max_wait=float(settings.get("rate_limit_max_wait", 60.0)))
        safe = sessions.retry_policy(settings, frozenset({"POST"}), RETRY_STATUSES)
        self._safe = HttpPool(config.base_url, headers, safe)
        self._once = HttpPool(config.base_url, headers, Retry(total=0, redirect=0, raise_on_status=False))

    def __repr__(self) -> str:
        return f"RefurbedClient(code={self.code!r}, base_url={self.base_url!r})"

    def call(self, rpc: str, body: dict[str, Any], *, repeatable: bool) -> Any:
        """POST ``body`` to ``<Service>/<Method>``; ``repeatable`` says whether resending is harmless."""
        return self.exchange(rpc, body, repeatable=repeatable)[0]

    def exchange(self, rpc: str, body: dict[str, Any], *, repeatable: bool) -> tuple[Any, Answer]:
        """``call``, with the answer it decoded (for its headers)."""
        pool = self._safe if repeatable else self._once
        url = f"{self.base_url}/{API_PREFIX}.{rpc}"
        data = json.dumps(body).encode()
        retries_left = self.rate_limit_retries if repeatable else 0
        body_attempts = 1
        while True:
            self.rate_limit.wait_if_exhausted()
            try:
                # A redirected POST would silently turn into a GET: redirects are not followed.
                answer = pool.request("POST", url, body=data, timeout=self.timeout)
            except Unreachable as exc:
                raise MarketplaceError(
                    self._clean(
                        f"{self.code}: cannot reach Refurbed at {self.base_url} for {rpc}: {exc}; "
                        "check base_url in the marketplace file and the network"
                    )
                ) from None
            refused = answer.status == 429
            self.rate_limit.observe(answer.headers, refused=refused)
            log.debug("%s: %s -> HTTP %s", self.code, rpc, answer.status)
            if refused and retries_left > 0:
                retries_left -= 1
                continue  # the next turn waits for the window to reset
            try:
                return self._decode(rpc, answer), answer
            except MalformedAnswer as exc:
                if not repeatable or body_attempts >= self.body_attempts:
                    raise MalformedAnswer(f"{exc} (after {body_attempts} attempt(s))", exc.excerpt) from None
                delay = min(self.backoff * 2 ** (body_attempts - 1), self.backoff_max)
                body_attempts += 1
                log.info("%s: %s; asking again", self.code, exc)
                time.sleep(delay * (1 + random.random() / 2))

    def close(self) -> None:
        for pool in (self._safe, self._once):
            pool.close()

    def _decode(self, rpc: str, answer: Answer) -> Any:
        status = answer.status
        body = _json(answer)
        if not 200 <= status < 300:
            code = body.get("code") if isinstance(body, dict) else None
            code = code if isinstance(code, int) and not isinstance(code, bool) else None
            message = body.get("message") if isinstance(body, dict) else None
            detail = " ".join(str(message).split())[:200] if message else ""
            text = f"{self.code}: Refurbed answered HTTP {status} {rpc_name(code)} for {rpc}" + (
                f": {detail}" if detail else ""
            )
            if status in (401, 403) or code in AUTH_CODES:
                raise AuthenticationError(self._clean(text + "; check the token"))
            raise RefurbedHTTPError(self._clean(text), status, code)
        if body is _NOT_JSON:
            raise MalformedAnswer(
                self._clean(f"{self.code}: Refurbed answered {rpc} with a body that is not JSON"),
                self._clean(answer.text[: sessions.EXCERPT_CHARS]),
            )
        return body

    def _clean(self, message: str) -> str:
        # Belt and braces: whatever a server echoes back, the token never leaves in a message.
        return message.replace(self._token, "***") if self._token else message


_NOT_JSON = object()


def _json(answer: Answer) -> Any:
    if not answer.content:
        return None
    try:
        # Money stays exact: should a JSON number with a fraction come, it becomes Decimal, never float.
        return json.loads(answer.content, parse_float=Decimal)
    except ValueError:
        return _NOT_JSON
