"""Seeded fault decisions, the ``chaos`` of every simulator's fault knobs (``faults.py``).

Every mode is off by default. A request is decided in a fixed order, with one draw of a seeded
random generator per active mode, so that the same seed and the same sequence of requests give
the same faults:

- ``burst_rate`` / ``burst_length``: a request starts a burst of that many 429 answers;
- ``error_rate``: a 5xx answer (503, the status every gateway sends when a backend is away);
- ``timeout_rate`` / ``hang_rate`` with ``timeout_seconds``: the answer comes only after that long
  (set it above the client's read timeout), or the connection is closed after that long without
  any answer;
- ``truncate_rate``: a 200 whose JSON body is cut in half (its length header says the cut length,
  as a proxy that lost the rest would send it);
- ``malformed_rate``: a 200 whose body is not JSON at all (an HTML error page);
- ``change_rate``: after a listing page that has more to come, one order changes state before the
  next page is asked for (the world says which; the listing may shift under the client);
- ``rules``: targeted faults for tests, ``{"fault": kind, "match": text, "skip": k, "times": n}``:
  the requests whose target (path and query) contains ``match`` skip ``k`` times, then get
  ``fault`` ``n`` times. They are checked before the rates.

``injected`` counts what was done, by kind.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

#: the faults a request can get, in the order they are drawn
REQUEST_FAULTS = ("burst", "error", "timeout", "hang", "truncate", "malformed")
KINDS = (*REQUEST_FAULTS, "change")
_RATES = {
    "burst": "burst_rate",
    "error": "error_rate",
    "timeout": "timeout_rate",
    "hang": "hang_rate",
    "truncate": "truncate_rate",
    "malformed": "malformed_rate",
    "change": "change_rate",
}
#: the body a broken proxy answers with instead of the API's JSON
MALFORMED_BODY = b"<html><head><title>502 Bad Gateway</title></head><body>upstream sent garbage</body></html>"


@dataclass
class Rule:
    fault: str
    match: str = ""
    skip: int = 0
    times: int = 1

    @classmethod
    def parse(cls, spec: dict[str, Any]) -> Rule:
        fault = str(spec.get("fault"))
        if fault not in KINDS:
            raise ValueError(f"unknown fault {fault!r} (known: {', '.join(KINDS)})")
        return cls(fault, str(spec.get("match") or ""), int(spec.get("skip", 0)), int(spec.get("times", 1)))


@dataclass
class Chaos:
    seed: int = 0
    #: fault kind -> the share of requests that get it (for ``change``: of listing pages)
    rates: dict[str, float] = field(default_factory=lambda: dict.fromkeys(KINDS, 0.0))
    burst_length: int = 3
    timeout_seconds: float = 1.0
    rules: list[Rule] = field(default_factory=list)
    injected: Counter = field(default_factory=Counter)
    _burst_left: int = field(default=0, repr=False)
    _rng: random.Random = field(default_factory=lambda: random.Random(0), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    KNOBS = frozenset({"seed", "burst_length", "timeout_seconds", "rules", *_RATES.values()})

    def configure(self, changes: dict[str, Any]) -> None:
        """Apply the knobs of ``changes`` this class owns; a new ``seed`` restarts the sequence."""
        with self._lock:
            for kind, name in _RATES.items():
                if name in changes:
                    rate = float(changes[name] or 0.0)
                    if not 0.0 <= rate <= 1.0:
                        raise ValueError(f"{name} must be between 0 and 1")
                    self.rates[kind] = rate
            if "burst_length" in changes:
                self.burst_length = max(1, int(changes["burst_length"]))
            if "timeout_seconds" in changes:
                self.timeout_seconds = max(0.0, float(changes["timeout_seconds"]))
            if "rules" in changes:
                self.rules = [Rule.parse(spec) for spec in changes["rules"] or []]
            if "seed" in changes:
                self.seed = int(changes["seed"])
                self._rng = random.Random(self.seed)
                self._burst_left = 0

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {
                "seed": self.seed,
                **{name: self.rates[kind] for kind, name in _RATES.items()},
                "burst_length": self.burst_length,
                "timeout_seconds": self.timeout_seconds,
                "rules": [vars(rule).copy() for rule in self.rules],
                "injected": dict(self.injected),
            }

    def decide(self, target: str) -> str | None:
        """The fault this request gets (one of ``REQUEST_FAULTS``), or None."""
        with self._lock:
            if self._burst_left > 0:
                self._burst_left -= 1
                self.injected["burst"] += 1
                return "burst"
            fault = self._rule(target)
            if fault is None:
                for kind in REQUEST_FAULTS:
                    rate = self.rates[kind]
                    if rate > 0 and self._rng.random() < rate:
                        fault = kind
                        break
            if fault is not None:
                self.injected[fault] += 1
                if fault == "burst":
                    self._burst_left = self.burst_length - 1
            return fault

    def change_now(self, target: str) -> bool:
        """Whether an order changes now, after a listing page with more to come."""
        with self._lock:
            hit = self._rule(target, only="change") == "change"
            if not hit and self.rates["change"] > 0:
                hit = self._rng.random() < self.rates["change"]
            return hit

    def changed(self) -> None:
        with self._lock:
            self.injected["change"] += 1

    def _rule(self, target: str, only: str | None = None) -> str | None:
        for rule in self.rules:
            if rule.times <= 0 or rule.match not in target:
                continue
            if (rule.fault == "change") != (only == "change"):
                continue
            if rule.skip > 0:
                rule.skip -= 1
                continue
            rule.times -= 1
            return rule.fault
        return None

    def pick(self, choices: list[Any]) -> Any:
        """A seeded choice, for the order the world changes."""
        with self._lock:
            return self._rng.choice(choices) if choices else None


def truncated(body: bytes) -> bytes:
    """The first half of ``body``: never valid JSON for an object or a list."""
    return body[: max(1, len(body) // 2)]
