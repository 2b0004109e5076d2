"""Pacing: at most N requests per window for one marketplace account, whoever sends them.

Back Market's budget (Cloudflare's, in front of its API) is per account: 200 requests per 10 s,
and a burst above it blocks the account for a while. Every request of an account therefore takes
a permit from one limiter: the threads of a sync share it in memory, and the processes of one host
(Dagster runs each sync in a process of its own) share it through a SQLite bucket in the data
folder, whose file lock makes "count, then take" one step across processes. Several hosts share
it through Postgres instead (``rate_limit_store``, see ``pacing_store``).
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

from pyrate_limiter import Limiter, Rate

from ordersync_pipeline import settings
from ordersync_pipeline.marketplaces.pacing_store import bucket_for, shared_store

#: Back Market's documented budget: (requests, seconds).
DEFAULT_RATE_LIMIT = (200, 10.0)

_limiters: dict[tuple[str, str], Limiter] = {}
_guard = threading.Lock()


def rate_limit_setting(marketplace_settings: dict[str, Any]) -> tuple[int, float] | None:
    """``rate_limit: [requests, seconds]`` from a marketplace row; ``null`` (or 0) turns pacing off."""
    value = marketplace_settings.get("rate_limit", DEFAULT_RATE_LIMIT)
    if not value:
        return None
    requests, seconds = value
    return int(requests), float(seconds)


def account_key(base_url: str, token: str) -> str:
    """A name for the account that never reveals the token."""
    return hashlib.sha256(f"{base_url}\0{token}".encode()).hexdigest()[:20]


def limiter_for(key: str, rate_limit: tuple[int, float], shared_file: Path | str | None) -> Limiter:
    """The one limiter of this process for ``key`` (an account), backed by ``shared_file`` if given."""
    requests, seconds = rate_limit
    where = str(shared_file) if shared_file is not None else ""
    with _guard:
        limiter = _limiters.get((key, where))
        if limiter is None:
            # The marketplace counts a request when it arrives, a little after its permit was
            # taken here: the window is kept a little longer than the marketplace's own.
            window = seconds + max(0.1, seconds * 0.02)
            rate = Rate(requests, int(window * 1000))
            limiter = _limiters[(key, where)] = Limiter(bucket_for(shared_file, f"account_{key}", rate))
        return limiter


def shared_file_setting(marketplace_settings: dict[str, Any]) -> Path | None:
    """``rate_limit_file``: the SQLite file shared by the processes of this host (default: in the
    data folder); ``null`` keeps the budget within this process."""
    value = marketplace_settings.get("rate_limit_file", "default")
    if value == "default":
        return settings.data_dir() / "rate_limits.sqlite"
    return Path(value) if value else None


class Pacer:
    """Takes a permit before each request; a no-op when pacing is off."""

    def __init__(self, limiter: Limiter | None, key: str) -> None:
        self._limiter = limiter
        self._key = key

    def wait(self) -> None:
        if self._limiter is not None:
            self._limiter.try_acquire(self._key, blocking=True)

    @classmethod
    def for_account(cls, base_url: str, token: str, marketplace_settings: dict[str, Any]) -> Pacer:
        key = account_key(base_url, token)
        rate_limit = rate_limit_setting(marketplace_settings)
        if rate_limit is None:
            return cls(None, key)
        store = shared_store(marketplace_settings, shared_file_setting(marketplace_settings))
        return cls(limiter_for(key, rate_limit, store), key)
