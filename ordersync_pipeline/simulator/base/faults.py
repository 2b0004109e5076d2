"""Fault knobs every simulator has, consulted once per API request before it is answered.

- ``latency``: seconds slept before answering;
- ``rate_limit=(n, seconds)``: past ``n`` requests in the window, 429 (how the window is kept is
  the marketplace's: ``_admit``);
- ``fail_next``: that many next requests answer 503, for retry tests;
- the seeded modes of ``chaos`` (429 bursts, a 5xx rate, timeouts, truncated and malformed
  bodies, an order changing between two pages), off by default.

A marketplace's faults add their own knobs (``EXTRA_KNOBS``, ``_configure``, ``_describe``) and
keep its rate limit and give its errors (``_admit``, ``_burst``, ``_unavailable``).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .chaos import Chaos

KNOBS = frozenset({"latency", "rate_limit", "fail_next"})


@dataclass
class SimulatedFaults:
    #: seconds slept before answering each API request
    latency: float = 0.0
    #: (requests, seconds): more than that many requests in the window answer 429
    rate_limit: tuple[int, float] | None = None
    fail_next: int = 0
    #: requests answered 429 since the start
    limited: int = 0
    #: API requests that reached the server, by path
    requests: Counter = field(default_factory=Counter)
    chaos: Chaos = field(default_factory=Chaos)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    EXTRA_KNOBS = frozenset()

    def configure(self, **changes: Any) -> None:
        """Change knobs at run time (the control API calls this)."""
        unknown = set(changes) - KNOBS - self.EXTRA_KNOBS - Chaos.KNOBS
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}")
        self._check(changes)
        self.chaos.configure(changes)
        with self._lock:
            if "latency" in changes:
                self.latency = float(changes["latency"] or 0.0)
            if "rate_limit" in changes:
                limit = changes["rate_limit"]
                self.rate_limit = (int(limit[0]), float(limit[1])) if limit else None
                self._restart_window()
            if "fail_next" in changes:
                self.fail_next = max(0, int(changes["fail_next"] or 0))
            self._configure(changes)

    def describe(self) -> dict[str, Any]:
        return {
            "latency": self.latency,
            "rate_limit": list(self.rate_limit) if self.rate_limit else None,
            "fail_next": self.fail_next,
            "limited": self.limited,
            **self._describe(),
            **self.chaos.describe(),
        }

    def before_request(self, path: str, target: str) -> tuple[dict[str, str], str | None]:
        """The headers this answer carries, and what the handler must do to the answer itself:
        ``timeout`` (answer late), ``hang`` (close without answering), ``truncate`` or
        ``malformed`` (spoil the body), or None. Sleeps first, if asked to.

        Raises the error to answer instead, if any; it carries the headers too (``exc.headers``).
        ``target`` is the path with its query, which the chaos rules match."""
        with self._lock:
            self.requests[path] += 1
        if self.latency > 0:
            time.sleep(self.latency)
        headers = self._admit()
        with self._lock:
            if self.fail_next > 0:
                self.fail_next -= 1
                raise self._with(self._unavailable(), headers)
        fault = self.chaos.decide(target)
        if fault == "burst":
            raise self._burst(headers)
        if fault == "error":
            raise self._with(self._unavailable(), headers)
        return headers, fault

    def between_pages(self, world: Any, target: str, served: list[int] | None = None) -> None:
        """After a listing page with more to come: maybe change one order before the next page
        (one of the page just ``served``, if one can move on)."""
        if not self.chaos.change_now(target):
            return
        with world.lock:
            picked = self.chaos.pick(world.movable(served or []))
            if picked is not None:
                world.move_on(*picked)
                self.chaos.changed()

    @staticmethod
    def _with(error: Any, headers: dict[str, str]) -> Any:
        error.headers = headers
        return error

    # -- what a marketplace's faults say ----------------------------------------------------------

    def _check(self, changes: dict[str, Any]) -> None:
        """Refuse a bad value of an extra knob before anything changes."""

    def _configure(self, changes: dict[str, Any]) -> None:
        """Apply the extra knobs (the lock is held)."""

    def _describe(self) -> dict[str, Any]:
        return {}

    def _restart_window(self) -> None:
        """Forget the requests counted against the old rate limit (the lock is held)."""

    def _admit(self) -> dict[str, str]:
        """Count this request against the rate limit: the headers of the answer, or the 429."""
        return {}

    def _burst(self, headers: dict[str, str]) -> Exception:
        """The 429 a chaos burst answers with."""
        raise NotImplementedError

    def _unavailable(self) -> Exception:
        raise NotImplementedError
