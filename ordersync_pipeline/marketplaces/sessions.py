"""The HTTP session every marketplace client uses: headers, retries, pooled connections."""

from __future__ import annotations

import os

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry


def http_session(base_url: str, headers: dict[str, str], retry: Retry, connections: int = 16) -> requests.Session:
    """A session for one marketplace account, keeping up to ``connections`` connections open.

    The environment (proxies, CA bundle) is read once, here. Left to itself, requests reads it on
    every call, ~/.netrc included: a measurable share of a sync's time over thousands of pages, and
    a ~/.netrc entry for the marketplace's host would even replace the token header.
    """
    session = requests.Session()
    session.trust_env = False
    session.proxies.update(requests.utils.get_environ_proxies(base_url))
    session.verify = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    session.headers.update(headers)
    adapter = HTTPAdapter(max_retries=retry, pool_maxsize=connections)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
