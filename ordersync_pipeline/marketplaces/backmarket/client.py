"""HTTP access to Back Market's seller API: headers, timeouts, retries and error translation.

Three retry policies, because what is safe to repeat differs by call:

- reads (GET) are retried on 429, 5xx and connection failures;
- stock updates (POST of an absolute quantity) are idempotent, so they are retried the same way;
- orderline updates (accepting a line) are never retried: whether a repeat is harmless is not
  something to assume, and the sync records each attempt's outcome instead.

A read whose 2xx body is not JSON (a proxy's error page, a body cut short) is asked again too,
with the same backoff: urllib3 only sees the status, so that retry lives here (``read_json``).
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

from urllib3.util.retry import Retry

from ordersync_pipeline.marketplaces import sessions
from ordersync_pipeline.marketplaces.backmarket.pacing import Pacer
from ordersync_pipeline.marketplaces.base import (
    AuthenticationError,
    MalformedAnswer,
    MarketplaceConfig,
    MarketplaceError,
)
from ordersync_pipeline.marketplaces.sessions import Answer, HttpPool, Unreachable, timeout_of

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REDIRECTS = 5
# Back Market requires "BM-<Company>-<Integration>;<contact email>"; a seller sets its own in settings.
DEFAULT_USER_AGENT = "BM-Ordersync-Sync;ops@example.com"


class BackMarketHTTPError(MarketplaceError):
    """A non-2xx answer; keeps the status so callers can tell a refused line from an outage."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class PacedRetry(Retry):
    """A retry is a request like any other: it waits for a permit of the account's budget too."""

    pacer: Pacer | None = None

    def new(self, **kw: Any) -> PacedRetry:
        retry = super().new(**kw)
        retry.pacer = self.pacer
        return retry

    def sleep(self, response: Any = None) -> None:
        if self.pacer is not None and response is not None and response.status == 429:
            self.pacer.refused()
        super().sleep(response)
        if self.pacer is not None:
            self.pacer.wait()


def _retry(settings: dict[str, Any], methods: frozenset[str], pacer: Pacer | None = None) -> Retry:
    # Cloudflare blocks for about 10 s after a burst and sends no Retry-After: back off
    # exponentially with jitter (retry_policy), so that several runs do not come back in step.
    retry = sessions.retry_policy(
        settings,
        methods,
        RETRY_STATUSES,
        # Reads follow a few redirects (urllib3 drops the token on a move to another host).
        redirect=MAX_REDIRECTS if "GET" in methods else 0,
        retry_class=PacedRetry,
        respect_retry_after_header=True,
        retry_after_max=int(settings.get("retry_after_max", 60)),
    )
    retry.pacer = pacer
    return retry


class BackMarketClient:
    def __init__(self, config: MarketplaceConfig) -> None:
        self.code = config.code
        self.base_url = config.base_url.rstrip("/") + "/"
        self._token = config.token
        settings = dict(config.settings or {})
        self._settings = settings
        # Every call has a timeout: a silent server must not hang a run.
        self.timeout = timeout_of(settings.get("timeout") or sessions.DEFAULT_TIMEOUT)
        headers = {
            # The token is sent as is: Back Market's "Basic" is not base64 of user:password.
            "Authorization": f"Basic {config.token}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Accept-Language": config.locale,
            "User-Agent": settings.get("user_agent") or DEFAULT_USER_AGENT,
        }
        #: attempts at a read whose body is not JSON, and the backoff between them
        self.body_attempts = 1 + int(settings.get("max_retries", 4))
        self.backoff = float(settings.get("backoff_factor", 0.5))
        self.backoff_max = float(settings.get("backoff_max", 15.0))
        self.pacer = Pacer.for_account(config.base_url, config.token, settings)
        #: pages fetched at once; the pacer keeps them within the account's budget.
        self.concurrency = max(1, int(settings.get("concurrency", 4)))
        base = config.base_url
        self._headers = headers
        self._reads = HttpPool(base, headers, _retry(settings, frozenset({"GET"}), self.pacer))
        self._idempotent_writes = HttpPool(base, headers, _retry(settings, frozenset({"POST"}), self.pacer))
        self._once = HttpPool(base, headers, Retry(total=0, redirect=0, raise_on_status=False))

    def __repr__(self) -> str:
        return f"BackMarketClient(code={self.code!r}, base_url={self.base_url!r})"

    def reads_paced_by(self, pacer: Any) -> BackMarketClient:
        """This client for reads that take their permits from ``pacer`` (the catalog endpoints'
        own budget on top of the account's, see ``catalog``). Close it when done."""
        view = copy.copy(self)
        view.pacer = pacer
        view._reads = HttpPool(self.base_url, self._headers, _retry(self._settings, frozenset({"GET"}), pacer))
        view._idempotent_writes = view._once = view._reads  # reads only: its close() closes just this pool
        return view

    def url(self, path_or_url: str) -> str:
        """An absolute URL on our base URL.

        ``next`` links are absolute URLs chosen by the server; only their path and query are kept,
        so the token is only ever sent to the configured host.
        """
        parts = urlsplit(path_or_url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return urljoin(self.base_url, path.lstrip("/"))

    def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.read_json(lambda: self._decoded("GET", self._request(self._reads, "GET", path, params=params)))

    def read_json(self, read: Callable[[], T]) -> T:
        """``read()``, asked again while its body is not JSON; the last ``MalformedAnswer`` if it stays so."""
        for attempt in range(self.body_attempts):
            try:
                return read()
            except MalformedAnswer as exc:
                if attempt + 1 >= self.body_attempts:
                    raise MalformedAnswer(f"{exc} (after {self.body_attempts} attempts)", exc.excerpt) from None
                delay = min(self.backoff * 2**attempt, self.backoff_max)
                log.info("%s: %s; asking again", self.code, exc)
                time.sleep(delay * (1 + random.random() / 2))
        raise AssertionError("unreachable")

    def get_raw(self, path: str, params: dict[str, Any] | None = None) -> tuple[bytes, str]:
        """The body of a 2xx answer as bytes, for callers that parse it themselves, and where it was
        asked (for messages)."""
        answer = self._request(self._reads, "GET", path, params=params)
        return answer.content, self._where("GET", answer.url)

    def get_answer(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        """A read's 2xx answer whole, headers included (the connection check reads its ``Date``)."""
        return self._request(self._reads, "GET", path, params=params)

    def post_idempotent(self, path: str, body: dict[str, Any]) -> Any:
        return self._decoded("POST", self._request(self._idempotent_writes, "POST", path, body=body))

    def post_once(self, path: str, body: dict[str, Any]) -> Any:
        return self._decoded("POST", self._request(self._once, "POST", path, body=body))

    def close(self) -> None:
        for pool in (self._reads, self._idempotent_writes, self._once):
            pool.close()

    def _decoded(self, method: str, answer: Answer) -> Any:
        """Decode the JSON body of an answer to ``method``; None for an empty one."""
        if not answer.content:
            return None
        return self.decode(answer.content, self._where(method, answer.url))

    def decode(self, text: str | bytes, where: str) -> Any:
        try:
            # Money stays exact: JSON numbers with a fraction become Decimal, never float.
            return json.loads(text, parse_float=Decimal)
        except ValueError:
            raw = text.decode(errors="replace") if isinstance(text, bytes) else text
            raise MalformedAnswer(
                self._clean(f"{self.code}: Back Market answered {where} with a body that is not JSON"),
                self._clean(raw[: sessions.EXCERPT_CHARS]),
            ) from None

    def _request(
        self,
        pool: HttpPool,
        method: str,
        path: str,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
    ) -> Answer:
        url = self.url(path)
        self.pacer.wait()
        try:
            answer = pool.request(
                method,
                url,
                params=params,
                body=None if body is None else json.dumps(body).encode(),
                timeout=self.timeout,
                # A redirected POST would silently turn into a GET: only reads follow redirects.
                follow_redirects=method == "GET",
            )
        except Unreachable as exc:
            where = self._where(method, url, params)
            raise MarketplaceError(
                self._clean(
                    f"{self.code}: cannot reach Back Market at {self.base_url} for {where}: {exc}; "
                    "check base_url in the marketplace file and the network"
                )
            ) from None
        where = self._where(method, answer.url)
        log.debug("%s: %s -> HTTP %s", self.code, where, answer.status)
        if answer.status == 429:  # one not retried (a write sent once, or the retries spent)
            self.pacer.refused()
        if answer.status in (401, 403):
            raise AuthenticationError(
                self._clean(
                    f"{self.code}: Back Market refused the credentials (HTTP {answer.status}) "
                    f"for {where}; check the token and the User-Agent"
                )
            )
        if not 200 <= answer.status < 300:
            detail = _error_detail(answer)
            raise BackMarketHTTPError(
                self._clean(
                    f"{self.code}: Back Market answered HTTP {answer.status} for {where}"
                    + (f": {detail}" if detail else "")
                ),
                answer.status,
            )
        return answer

    def _where(self, method: str, url: str, params: dict[str, Any] | None = None) -> str:
        parts = urlsplit(url)
        query = parts.query or "&".join(f"{k}={v}" for k, v in (params or {}).items())
        return f"{method} {parts.path}" + (f"?{query}" if query else "")

    def _clean(self, message: str) -> str:
        # Belt and braces: whatever a server echoes back, the token never leaves in a message.
        return message.replace(self._token, "***") if self._token else message


def _error_detail(answer: Answer) -> str:
    """The message of a Back Market error body, shortened; an HTML page is not worth quoting."""
    try:
        body = json.loads(answer.content)
    except ValueError:
        return ""
    message: Any = None
    if isinstance(body, dict):
        error = body.get("error")
        errors = body.get("errors")
        if isinstance(error, dict):
            message = error.get("message") or error.get("code")
        elif isinstance(errors, list) and errors and isinstance(errors[0], dict):
            message = errors[0].get("message") or errors[0].get("code")
        else:
            message = body.get("message") or body.get("detail")
    elif isinstance(body, str):
        message = body
    return " ".join(str(message).split())[:200] if message else ""
