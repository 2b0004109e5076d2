"""The HTTP connections every marketplace client uses: headers, retries, proxies, kept-alive pools.

urllib3 directly, not requests: a sync reads thousands of pages, and requests' own work per call
(preparing, merging settings, looking at the environment and ``~/.netrc``, wrapping the answer)
would be done again for each of them. The environment (proxies, CA bundle) is read once,
here, and ``~/.netrc`` never: an entry there for the marketplace's host must not replace the token.

A client's token lives only in its pool's headers: it is never put in a message, a log line or a repr.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import certifi
import urllib3
from urllib3.exceptions import HTTPError, MaxRetryError
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
#: characters of a body that is not JSON kept for messages and error records
EXCERPT_CHARS = 500


@dataclass(frozen=True)
class Answer:
    """An HTTP answer, its body read whole."""

    status: int
    headers: Mapping[str, str]
    content: bytes
    #: where it came from, after any redirect
    url: str

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")


class Unreachable(Exception):
    """No answer: the connection failed or timed out, after the retries. Names the cause only."""


#: what each failure of urllib3 means to someone who has to fix it (by class name, most specific first)
_CAUSES = {
    "NameResolutionError": "the host name is unknown",
    "ConnectTimeoutError": "no connection within the timeout",
    "NewConnectionError": "the connection was refused (nothing listens there?)",
    "ReadTimeoutError": "no answer within the timeout",
    "SSLError": "the TLS handshake failed",
    "ProxyError": "the proxy failed",
    "ProtocolError": "the connection was dropped",
}


def _cause(exc: BaseException) -> str:
    """The failure's class name, and what it means if it is one of the usual ones."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _CAUSES:
            return f"{_CAUSES[cls.__name__]} ({type(exc).__name__})"
    return type(exc).__name__


def timeout_of(value: Any) -> urllib3.Timeout:
    """A ``(connect, read)`` pair or one number of seconds for both, as urllib3 takes it."""
    if isinstance(value, list | tuple):
        connect, read = value
        return urllib3.Timeout(connect=float(connect), read=float(read))
    return urllib3.Timeout(connect=float(value), read=float(value))


def retry_policy(
    settings: Mapping[str, Any],
    methods: frozenset[str],
    statuses: frozenset[int],
    redirect: int = 0,
    retry_class: type[Retry] = Retry,
    **more: Any,
) -> Retry:
    """Retries of ``methods`` on connection failures and ``statuses``, as many and as far apart as the
    account's ``settings`` say (``max_retries``, ``backoff_factor``, ``backoff_max``, ``backoff_jitter``)."""
    attempts = int(settings.get("max_retries", 4))
    return retry_class(
        total=attempts,
        connect=attempts,
        read=attempts,
        status=attempts,
        other=0,
        redirect=redirect,
        allowed_methods=methods,
        status_forcelist=statuses,
        backoff_factor=float(settings.get("backoff_factor", 0.5)),
        backoff_max=float(settings.get("backoff_max", 15.0)),
        backoff_jitter=float(settings.get("backoff_jitter", 0.5)),
        # Give the last answer back instead of raising, so that it becomes a clear error.
        raise_on_status=False,
        **more,
    )


def environ_proxy(url: str) -> str | None:
    """The proxy the environment names for ``url`` (``HTTPS_PROXY``, ``NO_PROXY``...), if any."""
    parts = urlsplit(url)
    if urllib.request.proxy_bypass_environment(parts.netloc):
        return None
    proxies = urllib.request.getproxies_environment()
    return proxies.get(parts.scheme) or proxies.get("all")


class HttpPool:
    """Connections to one marketplace account, up to ``connections`` kept open, each request sent
    with ``headers`` and retried by ``retry``."""

    def __init__(self, base_url: str, headers: dict[str, str], retry: Retry, connections: int = 16) -> None:
        self.proxy = environ_proxy(base_url)
        self.ca_certs = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or certifi.where()
        options: dict[str, Any] = {
            "maxsize": connections,
            "headers": headers,
            "retries": retry,
            "cert_reqs": "CERT_REQUIRED",
            "ca_certs": self.ca_certs,
        }
        self._manager = urllib3.ProxyManager(self.proxy, **options) if self.proxy else urllib3.PoolManager(**options)

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: urllib3.Timeout,
        params: dict[str, Any] | None = None,
        body: bytes | None = None,
        follow_redirects: bool = False,
    ) -> Answer:
        """Send one request (retried as the pool's ``retry`` says); ``Unreachable`` if no answer came."""
        if params:
            url += ("&" if "?" in url else "?") + urlencode(params)
        try:
            response = self._manager.request(
                method, url, body=body, timeout=timeout, redirect=follow_redirects, preload_content=True
            )
        except MaxRetryError as exc:
            raise Unreachable(_cause(exc.reason or exc)) from None
        except HTTPError as exc:
            raise Unreachable(_cause(exc)) from None
        return Answer(response.status, response.headers, response.data, response.url or url)

    def close(self) -> None:
        self._manager.clear()
