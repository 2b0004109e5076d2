"""Pacing: at most N requests per window for one marketplace account, whoever sends them.

Back Market's budget (Cloudflare's, in front of its API) is per account: 200 requests per 10 s,
and a burst above it blocks the account for a while. Every request of an account therefore takes
a permit from one limiter: the threads of a sync share it in memory, and the processes of one host
(Dagster runs each sync in a process of its own) share it through a SQLite bucket in the data
folder, whose file lock makes "count, then take" one step across processes. Several hosts share
it through Postgres instead (``rate_limit_store``, see ``pacing_store``).

A permit taken here is not the moment the request arrives: a thread that took one may be held up
(a loaded machine) while the next ones go straight through, so two requests can land closer
together than their permits. The limiter therefore keeps a margin in requests as well as in time.
Should a request land over the budget all the same, the first 429 pauses every request of the
account in this process for as long as Back Market blocks an account after one (``Pause``): a
request sent into the block would only be refused and extend it.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import Any

from pyrate_limiter import Limiter, Rate

from ordersync_pipeline import settings
from ordersync_pipeline.marketplaces.pacing_store import bucket_for, shared_store

log = logging.getLogger(__name__)

#: Back Market's documented budget: (requests, seconds).
DEFAULT_RATE_LIMIT = (200, 10.0)
#: how long Back Market blocks an account that went over its budget (seconds)
DEFAULT_BLOCK_PAUSE = 10.0

_limiters: dict[tuple[str, str], Limiter] = {}
_pauses: dict[str, Pause] = {}
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
            rate = Rate(*paced_rate(requests, seconds))
            limiter = _limiters[(key, where)] = Limiter(bucket_for(shared_file, f"account_{key}", rate))
        return limiter


def paced_rate(requests: int, seconds: float) -> tuple[int, int]:
    """(permits, window in milliseconds) for a budget of ``requests`` per ``seconds``.

    The marketplace counts a request when it arrives, a little after its permit was taken here,
    and not always in the order the permits were taken: the window is kept a little longer than
    the marketplace's own, and a few requests of it are left unused."""
    window = seconds + max(0.1, seconds * 0.02)
    permits = max(1, requests - max(1, requests // 20))
    return permits, int(window * 1000)


class Pause:
    """The requests of one account held back until a moment (after a 429), for every thread."""

    def __init__(self) -> None:
        self._until = 0.0
        self._lock = threading.Lock()

    def start(self, seconds: float) -> None:
        with self._lock:
            self._until = max(self._until, time.monotonic() + seconds)

    def wait(self) -> None:
        while True:
            with self._lock:
                left = self._until - time.monotonic()
            if left <= 0:
                return
            time.sleep(left)


def pause_for(key: str) -> Pause:
    """The one pause of this process for ``key`` (an account)."""
    with _guard:
        pause = _pauses.get(key)
        if pause is None:
            pause = _pauses[key] = Pause()
        return pause


def shared_file_setting(marketplace_settings: dict[str, Any]) -> Path | None:
    """``rate_limit_file``: the SQLite file shared by the processes of this host (default: in the
    data folder); ``null`` keeps the budget within this process."""
    value = marketplace_settings.get("rate_limit_file", "default")
    if value == "default":
        return settings.data_dir() / "rate_limits.sqlite"
    return Path(value) if value else None


class Pacer:
    """Takes a permit before each request (none when pacing is off), after any pause of the account."""

    def __init__(self, limiter: Limiter | None, key: str, block_pause: float = DEFAULT_BLOCK_PAUSE) -> None:
        self._limiter = limiter
        self._key = key
        self._pause = pause_for(key)
        self.block_pause = block_pause

    def wait(self) -> None:
        self._pause.wait()
        if self._limiter is not None:
            self._limiter.try_acquire(self._key, blocking=True)
            # A pause may have begun while this thread waited for its permit.
            self._pause.wait()

    def refused(self) -> None:
        """The marketplace answered 429: hold every request of the account until its block is over."""
        if self.block_pause > 0:
            log.warning("Back Market answered 429: pausing this account's requests for %.1f s", self.block_pause)
            self._pause.start(self.block_pause)

    @classmethod
    def for_account(cls, base_url: str, token: str, marketplace_settings: dict[str, Any]) -> Pacer:
        key = account_key(base_url, token)
        block_pause = float(marketplace_settings.get("rate_limit_pause", DEFAULT_BLOCK_PAUSE) or 0.0)
        rate_limit = rate_limit_setting(marketplace_settings)
        if rate_limit is None:
            return cls(None, key, block_pause)
        store = shared_store(marketplace_settings, shared_file_setting(marketplace_settings))
        return cls(limiter_for(key, rate_limit, store), key, block_pause)
